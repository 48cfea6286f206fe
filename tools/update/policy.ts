// The version policy: newest stable by default, pre-releases only when asked, never a downgrade,
// and never "up to date" when the upstream offers nothing the tool can read.
import type { Candidate, Current, Offer, Track } from "./sources.ts";
import type { TagReading } from "./tags.ts";
import {
  compareVersions,
  isPrerelease,
  type ParsedVersion,
  parseVersion,
  unstableDate,
} from "./version.ts";

/** What the policy decided for one package. */
export type Choice =
  | { kind: "newer"; candidate: Candidate }
  | { kind: "up-to-date"; newest?: string }
  /** The upstream offers only versions older than the current one. */
  | { kind: "ahead"; newest: string }
  /** The upstream offers no version the tool can read or compare: never "up to date". */
  | { kind: "unknown"; reason: string };

/** Options for {@linkcode chooseUpdate}. */
export interface PolicyOptions {
  track: Track;
  prerelease: boolean;
  /** How tags name versions (offers without a version of their own). */
  reading: TagReading;
  /** The upstream, for messages: `GitHub o/demo`. */
  upstream: string;
}

/**
 * Whether git could name a tag `name` (git check-ref-format: no ASCII control character, space,
 * `~ ^ : ? * [ \`, `..` or `@{`; nor, here, a C1 control). An upstream answer with another
 * name is hostile or broken: it is never chosen, so it never reaches the package file, a commit
 * message or the terminal.
 */
export function isRefName(name: string): boolean {
  if (name === "" || name.includes("..") || name.includes("@{")) return false;
  return [...name].every((c) => !isControl(c) && !" ~^:?*[\\".includes(c));
}

/** An ASCII control character, DEL or a C1 control: what a terminal may act on. */
function isControl(c: string): boolean {
  const code = c.codePointAt(0)!;
  return code < 0x20 || (code >= 0x7f && code <= 0x9f);
}

/** Characters of a tag shown in a message; a longer one is cut and its length named. */
const SHOWN_CHARS = 60;

/**
 * `"name"`, with control characters and quotes escaped (JSON's escapes) and cut after 60
 * characters: one short, safe line, whatever the upstream sent.
 */
export function quoteTag(value: string): string {
  const chars = [...value];
  const cut = chars.length > SHOWN_CHARS;
  const shown = cut ? chars.slice(0, SHOWN_CHARS).join("") : value;
  const quoted = [...JSON.stringify(shown)].map((c) =>
    isControl(c) ? `\\u${c.codePointAt(0)!.toString(16).padStart(4, "0")}` : c
  ).join("");
  return cut ? `${quoted.slice(0, -1)}…" (${chars.length} characters)` : quoted;
}

function quoteSome(values: readonly string[]): string {
  const shown = values.slice(0, 3).map(quoteTag).join(", ");
  return values.length > 3 ? `${shown} and ${values.length - 3} more` : shown;
}

/** Picks the version to move to from what the upstream offers. */
export function chooseUpdate(
  current: Current,
  offers: readonly Offer[],
  options: PolicyOptions,
): Choice {
  if (options.track === "branch") return chooseCommit(current, offers);
  if (offers.length === 0) {
    return { kind: "unknown", reason: `${options.upstream} offers no releases and no tags` };
  }
  const parsedCurrent = parseVersion(current.version);
  if (parsedCurrent === undefined) {
    return {
      kind: "unknown",
      reason: `the current version "${current.version}" is not a version the tool can compare`,
    };
  }
  let best: { candidate: Candidate; parsed: ParsedVersion } | undefined;
  const unread: string[] = [];
  let readable = 0;
  for (const offer of offers) {
    if (!isRefName(offer.rev)) {
      unread.push(offer.rev);
      continue;
    }
    const version = offer.version ?? options.reading.read(offer.rev);
    const parsed = version === undefined ? undefined : parseVersion(version);
    if (version === undefined || parsed === undefined) {
      unread.push(offer.rev);
      continue;
    }
    readable++;
    if (!options.prerelease && (offer.prerelease || isPrerelease(parsed))) continue;
    if (best === undefined || compareVersions(parsed, best.parsed) > 0) {
      best = { candidate: { ...offer, version }, parsed };
    }
  }
  if (readable === 0) {
    return {
      kind: "unknown",
      reason: `none of the ${offers.length} tag(s) of ${options.upstream} (${
        quoteSome(unread)
      }) reads as a version by ${options.reading.how}; set updateInfo.versionRegex`,
    };
  }
  if (best === undefined) return { kind: "up-to-date" };
  const order = compareVersions(best.parsed, parsedCurrent);
  if (order > 0) return { kind: "newer", candidate: best.candidate };
  if (order < 0) return { kind: "ahead", newest: best.candidate.version };
  return { kind: "up-to-date", newest: best.candidate.version };
}

function chooseCommit(current: Current, offers: readonly Offer[]): Choice {
  const head = offers[0];
  if (head === undefined || head.version === undefined) {
    return { kind: "unknown", reason: "the upstream named no branch head" };
  }
  const candidate: Candidate = { ...head, version: head.version };
  if (head.rev === current.rev) return { kind: "up-to-date", newest: head.version };
  const currentDate = unstableDate(current.version);
  const headDate = unstableDate(head.version);
  // A branch reset to an older commit is not followed back.
  if (currentDate !== undefined && headDate !== undefined && headDate < currentDate) {
    return { kind: "ahead", newest: head.version };
  }
  return { kind: "newer", candidate };
}
