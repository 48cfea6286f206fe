// Versions as upstreams spell them: parsing, ordering, and the policy that picks the newest.

/** A version split into its numeric release part, a suffix and build metadata. */
export interface ParsedVersion {
  /** As given, without a leading `v`: `1.3.0-rc.1`. */
  text: string;
  /** `[1, 3, 0]`; a date `2024-03-02` is `[2024, 3, 2]`. */
  numbers: number[];
  /** `rc.1`, `post1`, `w`, or "" when there is none (separator before it dropped). */
  suffix: string;
  /** Semver build metadata after `+` (`build.7`): never makes a version newer. */
  build: string;
}

/**
 * Parses `v1.2.3`, `1.2`, `1.3.0-rc.1`, `2.0b1`, `1.1.1w`, `1.2.3.post1`, `2024-03-02`,
 * `1.2.3+build.7`; undefined for text that is not a version (`nightly`, `release-1`).
 */
export function parseVersion(raw: string): ParsedVersion | undefined {
  const text = raw.replace(/^[vV](?=\d)/, "");
  const plus = text.indexOf("+");
  const main = plus < 0 ? text : text.slice(0, plus);
  const build = plus < 0 ? "" : text.slice(plus + 1);
  if (plus >= 0 && !/^[0-9A-Za-z][0-9A-Za-z.-]*$/.test(build)) return undefined;
  const date = /^(\d{4})-(\d{2})-(\d{2})(?![0-9])(.*)$/.exec(main);
  const match = date ?? /^(\d+(?:\.\d+)*)(.*)$/.exec(main);
  if (match === null) return undefined;
  const numbers = date
    ? [date[1]!, date[2]!, date[3]!].map(Number)
    : match[1]!.split(".").map(Number);
  if (numbers.some((n) => !Number.isSafeInteger(n))) return undefined;
  const rest = (date ? date[4] : match[2]) ?? "";
  if (rest !== "" && !/^[-._]?[0-9A-Za-z][0-9A-Za-z._-]*$/.test(rest)) return undefined;
  return { text, numbers, suffix: rest.replace(/^[-._]/, ""), build };
}

/**
 * Suffixes of releases that come after their base version: Python's `post1`, OpenSSH's `p1`,
 * OpenSSL's letter releases `1.1.1w`, a packaging revision `-1`.
 */
const POST_RELEASE = /^(?:(?:post|p|pl|patch|r|rev|update|u|sp|hotfix)[-._]?\d*|[A-Za-z]|\d+)$/i;

/** True for a version with a pre-release suffix (`-rc.1`, `b2`, `-dev`); not for `post1`, `w`. */
export function isPrerelease(version: ParsedVersion): boolean {
  return version.suffix !== "" && !POST_RELEASE.test(version.suffix);
}

/**
 * Orders versions: the release numbers first (missing parts are 0), then a pre-release before
 * its release, then the suffixes the way Nix compares versions (`rc.9` < `rc.10`, `1.2.3` <
 * `1.2.3.post1`). Build metadata is ignored: `1.2.3+build.7` equals `1.2.3`.
 */
export function compareVersions(a: ParsedVersion, b: ParsedVersion): number {
  const length = Math.max(a.numbers.length, b.numbers.length);
  for (let i = 0; i < length; i++) {
    const diff = (a.numbers[i] ?? 0) - (b.numbers[i] ?? 0);
    if (diff !== 0) return Math.sign(diff);
  }
  const aPre = isPrerelease(a);
  const bPre = isPrerelease(b);
  if (aPre !== bPre) return aPre ? -1 : 1;
  return nixCompareVersions(a.suffix, b.suffix);
}

/** The next component of a version as Nix splits it (runs of digits or of other characters). */
function components(version: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < version.length) {
    if (version[i] === "." || version[i] === "-") {
      i++;
      continue;
    }
    const digits = /\d/.test(version[i]!);
    let j = i;
    while (
      j < version.length && version[j] !== "." && version[j] !== "-" &&
      /\d/.test(version[j]!) === digits
    ) j++;
    out.push(version.slice(i, j));
    i = j;
  }
  return out;
}

function componentLess(c1: string, c2: string): boolean {
  const n1 = /^\d+$/.test(c1) ? Number(c1) : undefined;
  const n2 = /^\d+$/.test(c2) ? Number(c2) : undefined;
  if (n1 !== undefined && n2 !== undefined) return n1 < n2;
  if (c1 === "" && n2 !== undefined) return true;
  if (c1 === "pre" && c2 !== "pre") return true;
  if (c2 === "pre") return false;
  if (n2 !== undefined) return true; // `2.3a` < `2.3.1`
  if (n1 !== undefined) return false;
  return c1 < c2;
}

/**
 * `builtins.compareVersions` of Nix: -1, 0 or 1. The same algorithm as Nix's
 * src/libstore/names.cc (nextComponent, componentsLT, compareVersions); version_test.ts checks
 * it against `nix eval` on a table of cases.
 */
export function nixCompareVersions(a: string, b: string): number {
  const ca = components(a);
  const cb = components(b);
  for (let i = 0; i < Math.max(ca.length, cb.length); i++) {
    const x = ca[i] ?? "";
    const y = cb[i] ?? "";
    if (componentLess(x, y)) return -1;
    if (componentLess(y, x)) return 1;
  }
  return 0;
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
