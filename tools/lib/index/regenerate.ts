// Regenerating the index .nix files of a repository: plan them from the folder layout, compare
// them with the files on disk and, when asked, write the ones that differ (atomically). The
// index tool is a thin CLI over it; `host new` calls it after scaffolding a host.
// Kept free of npm imports: the index tool runs in the pre-commit hook and must start in
// milliseconds. The planner is loaded while git lists the files.
import { readTextIfExistsSync, writeFileAtomic } from "../fs.ts";
import type { PlannedIndex } from "./plan.ts";
import { planFromRepo } from "./scan.ts";
import { INDEX_SPECS, SCANNED_FOLDERS } from "./specs.ts";

/** What regenerating did to one index file. */
export interface IndexResult {
  path: string;
  status: "current" | "written" | "stale";
  entries: number;
}

/** The outcome of {@linkcode regenerateIndexes}. */
export interface Regenerated {
  results: IndexResult[];
  /** A unified diff per stale index (nothing written), in index order. */
  diffs: string[];
  /** Warnings for index entries git does not track (a flake cannot see them). */
  warnings: string[];
}

/** Options for {@linkcode regenerateIndexes}. */
export interface RegenerateOptions {
  /** Write the indexes that differ (false: report them as stale). */
  write: boolean;
  /** Count untracked files that git does not ignore (false in the pre-commit hook). */
  withUntracked: boolean;
}

const MAX_WARNINGS = 10;

/** Warnings for files an index names that git does not track: a flake cannot see them. */
export function untrackedWarnings(
  plans: readonly PlannedIndex[],
  untracked: ReadonlySet<string>,
): string[] {
  if (untracked.size === 0) return [];
  const named = new Set<string>();
  for (const plan of plans) {
    for (const entry of plan.entries) if (untracked.has(entry.source)) named.add(entry.source);
  }
  const sorted = [...named].sort();
  const lines = sorted.slice(0, MAX_WARNINGS).map((source) =>
    `warning: "${source}" is not tracked by git, so the flake cannot see it; run git add`
  );
  if (sorted.length > MAX_WARNINGS) {
    lines.push(`warning: ${sorted.length - MAX_WARNINGS} more files are not tracked by git`);
  }
  return lines;
}

/** Plans every index of the repository at `root` and writes (or reports) those that differ. */
export async function regenerateIndexes(
  root: string,
  options: RegenerateOptions,
): Promise<Regenerated> {
  // Three things at once on a cold start: git lists the files in its own processes, the
  // planner's modules load, and the current index files are read (synchronously: eight
  // small files cost less than eight round trips through Deno's async file ops).
  const work = planFromRepo(
    root,
    SCANNED_FOLDERS,
    import("./plan.ts").then((planner) => planner.planIndexes),
    (path) => path.endsWith(".nix"),
    { withUntracked: options.withUntracked },
  );
  let current: Map<string, string | undefined>;
  try {
    current = new Map(INDEX_SPECS.map((spec) => [spec.path, readIndex(root, spec.path)]));
  } catch (error) {
    await work.catch(() => {});
    throw error;
  }
  const { plan: plans, untracked } = await work;
  const warnings = untracked === undefined ? [] : untrackedWarnings(plans, untracked);
  const results = await Promise.all(
    plans.map((plan) => settle(root, plan, current.get(plan.path), options.write)),
  );
  if (options.write) removeKilledRunsTemps(root, plans.map((plan) => plan.path));
  const diffs: string[] = [];
  if (results.some((result) => result.status === "stale")) {
    const { unifiedDiff } = await import("../diff.ts");
    plans.forEach((plan, i) => {
      if (results[i]!.status === "stale") {
        diffs.push(unifiedDiff(plan.path, current.get(plan.path) ?? "", plan.content));
      }
    });
  }
  return { results, diffs, warnings };
}

/** Older than this, a temporary file beside an index is no running index's. */
const STALE_TEMP_MS = 10_000;

/**
 * Removes the `.<index>.<8 hex>.tmp` files (writeFileAtomic's) a run killed between its write
 * and its rename left beside the indexes: untracked and not ignored, `git add -A` would commit
 * them. A recent one may be a running index's own, so only old ones go.
 */
function removeKilledRunsTemps(root: string, paths: readonly string[]): void {
  // Synchronous, as the reads of the indexes: a few small folders cost less than round trips.
  const byFolder = Map.groupBy(paths, (path) => path.slice(0, path.lastIndexOf("/")));
  for (const [folder, indexes] of byFolder) {
    const names = new Set(indexes.map((path) => path.slice(folder.length + 1)));
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(`${root}/${folder}`)];
    } catch {
      continue;
    }
    for (const entry of entries) {
      const match = /^\.(.+)\.[0-9a-f]{8}\.tmp$/.exec(entry.name);
      if (!entry.isFile || match === null || !names.has(match[1]!)) continue;
      const path = `${root}/${folder}/${entry.name}`;
      try {
        const mtime = Deno.lstatSync(path).mtime;
        if (mtime !== null && Date.now() - mtime.getTime() > STALE_TEMP_MS) Deno.removeSync(path);
      } catch {
        // Gone already (another run removed it).
      }
    }
  }
}

/** The text of an index on disk, or undefined when there is none yet. */
function readIndex(root: string, path: string): string | undefined {
  try {
    return readTextIfExistsSync(`${root}/${path}`);
  } catch (error) {
    if (error instanceof Deno.errors.IsADirectory) {
      throw new Error(`Cannot read ${path}: it is a folder; remove it, then run deno task index`);
    }
    throw error;
  }
}

/** Compares one index with what is on disk and, when `write`, writes it if it differs. */
async function settle(
  root: string,
  plan: PlannedIndex,
  onDisk: string | undefined,
  write: boolean,
): Promise<IndexResult> {
  const result = (status: IndexResult["status"]): IndexResult => ({
    path: plan.path,
    status,
    entries: plan.entries.length,
  });
  if (onDisk === plan.content) return result("current");
  if (!write) return result("stale");
  return result(await writeIndex(`${root}/${plan.path}`, plan.content) ? "written" : "current");
}

/** Writes an index, creating its folder when the tree has none yet (e.g. no modules/shared/). */
async function writeIndex(path: string, content: string): Promise<boolean> {
  try {
    return await writeFileAtomic(path, content);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
    return await writeFileAtomic(path, content);
  }
}
