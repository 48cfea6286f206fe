// The version policy: newest stable by default, pre-releases only when asked, never a downgrade.
import type { Candidate, Current, Track } from "./sources.ts";
import { compareVersions, isPrerelease, parseVersion, unstableDate } from "./version.ts";

/** What the policy decided for one package. */
export type Choice =
  | { kind: "newer"; candidate: Candidate }
  | { kind: "up-to-date"; newest?: string }
  /** The upstream offers only versions older than the current one. */
  | { kind: "ahead"; newest: string };

/** Options for {@linkcode chooseUpdate}. */
export interface PolicyOptions {
  track: Track;
  prerelease: boolean;
}

/** Picks the version to move to from what the upstream offers. */
export function chooseUpdate(
  current: Current,
  candidates: readonly Candidate[],
  options: PolicyOptions,
): Choice {
  if (options.track === "branch") return chooseCommit(current, candidates);
  const parsedCurrent = parseVersion(current.version);
  let best:
    | { candidate: Candidate; parsed: NonNullable<ReturnType<typeof parseVersion>> }
    | undefined;
  for (const candidate of candidates) {
    const parsed = parseVersion(candidate.version);
    if (parsed === undefined) continue;
    if (!options.prerelease && (candidate.prerelease || isPrerelease(parsed))) continue;
    if (best === undefined || compareVersions(parsed, best.parsed) > 0) {
      best = { candidate, parsed };
    }
  }
  if (best === undefined) return { kind: "up-to-date" };
  if (parsedCurrent === undefined) return { kind: "newer", candidate: best.candidate };
  const order = compareVersions(best.parsed, parsedCurrent);
  if (order > 0) return { kind: "newer", candidate: best.candidate };
  if (order < 0) return { kind: "ahead", newest: best.candidate.version };
  return { kind: "up-to-date", newest: best.candidate.version };
}

function chooseCommit(current: Current, candidates: readonly Candidate[]): Choice {
  const head = candidates[0];
  if (head === undefined) return { kind: "up-to-date" };
  if (head.rev === current.rev) return { kind: "up-to-date", newest: head.version };
  const currentDate = unstableDate(current.version);
  const headDate = unstableDate(head.version);
  // A branch reset to an older commit is not followed back.
  if (currentDate !== undefined && headDate !== undefined && headDate < currentDate) {
    return { kind: "ahead", newest: head.version };
  }
  return { kind: "newer", candidate: head };
}
