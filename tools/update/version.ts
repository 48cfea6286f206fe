// Versions as upstreams spell them: parsing, ordering, and the policy that picks the newest.

/** A version split into its numeric release part and an optional pre-release suffix. */
export interface ParsedVersion {
  /** As given, without a leading `v`: `1.3.0-rc.1`. */
  text: string;
  numbers: number[];
  /** `rc.1`, or "" for a stable version. */
  suffix: string;
}

/** Parses `v1.2.3`, `1.2`, `1.3.0-rc.1`, `2.0b1`; undefined for text that is not a version. */
export function parseVersion(raw: string): ParsedVersion | undefined {
  const text = raw.replace(/^v(?=\d)/, "");
  const match = /^(\d+(?:\.\d+)*)(?:([-.+_]?)([0-9A-Za-z][0-9A-Za-z.+_-]*))?$/.exec(text);
  if (match === null) return undefined;
  const numbers = match[1]!.split(".").map(Number);
  if (numbers.some((n) => !Number.isSafeInteger(n))) return undefined;
  // Build metadata (`+build.5`) keeps its `+`, so it is not read as a pre-release.
  const suffix = match[3] === undefined ? "" : `${match[2] === "+" ? "+" : ""}${match[3]}`;
  return { text, numbers, suffix };
}

/** True for a version with a pre-release suffix (`-rc.1`, `b2`, `-dev`). */
export function isPrerelease(version: ParsedVersion): boolean {
  // A build-metadata-only suffix such as `+build.5` is not a pre-release.
  return version.suffix !== "" && !/^\+/.test(version.suffix);
}

/** Orders versions: numbers first (missing parts are 0), then stable after pre-release. */
export function compareVersions(a: ParsedVersion, b: ParsedVersion): number {
  const length = Math.max(a.numbers.length, b.numbers.length);
  for (let i = 0; i < length; i++) {
    const diff = (a.numbers[i] ?? 0) - (b.numbers[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  const aPre = isPrerelease(a);
  const bPre = isPrerelease(b);
  if (aPre !== bPre) return aPre ? -1 : 1;
  return a.suffix < b.suffix ? -1 : a.suffix > b.suffix ? 1 : 0;
}

const UNSTABLE = /^0-unstable-(\d{4}-\d{2}-\d{2})$/;

/** The date of a branch-tracking version `0-unstable-YYYY-MM-DD`, else undefined. */
export function unstableDate(version: string): string | undefined {
  return UNSTABLE.exec(version)?.[1];
}

/** The branch-tracking version for a commit date (ISO 8601, any time zone is read as UTC). */
export function unstableVersion(commitDate: string): string {
  const date = new Date(commitDate);
  if (Number.isNaN(date.getTime())) throw new Error(`Invalid commit date "${commitDate}"`);
  return `0-unstable-${date.toISOString().slice(0, 10)}`;
}
