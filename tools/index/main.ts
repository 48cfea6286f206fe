// Regenerates the index .nix files from the folder layout: `deno task index [--check]`.
// Kept free of npm imports: it runs in the pre-commit hook and must start in milliseconds.
// Static imports are only what runs before git: the planner loads while git lists the files.
import { UsageError } from "../lib/errors.ts";
import { readTextIfExistsSync, writeFileAtomic } from "../lib/fs.ts";
import { runMain } from "../lib/main.ts";
import { findRepoRoot } from "../lib/repo.ts";
import type { PlannedIndex } from "./plan.ts";
import { planFromRepo } from "./scan.ts";
import { INDEX_SPECS, SCANNED_FOLDERS } from "./specs.ts";

const HELP = `Usage: deno task index [options]

Regenerates the eight index .nix files from the folder layout (see ARCHITECTURE.md for
the naming rule). Writes only files whose content changes.

Options:
  --check        change nothing; exit 1 and print a diff for each stale index
  -n, --dry-run  change nothing; print a diff for each index that would be written
  --json         print the result as JSON on stdout
  --repo <dir>   repository root (default: found from the current folder)
  -v, --verbose  list every index, changed or not
  -h, --help     show this help
`;

/** Parsed command line of the index tool. */
export interface IndexOptions {
  check: boolean;
  dryRun: boolean;
  json: boolean;
  verbose: boolean;
  repo?: string;
  help: boolean;
}

/** Parses the few flags by hand: commander alone would double the hook's start-up time. */
export function parseIndexArgs(args: readonly string[]): IndexOptions {
  const options: IndexOptions = {
    check: false,
    dryRun: false,
    json: false,
    verbose: false,
    help: false,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--check") options.check = true;
    else if (arg === "-n" || arg === "--dry-run") options.dryRun = true;
    else if (arg === "--json") options.json = true;
    else if (arg === "-v" || arg === "--verbose") options.verbose = true;
    else if (arg === "-h" || arg === "--help") options.help = true;
    else if (arg === "--repo") {
      if (args[i + 1] === undefined) {
        throw new UsageError(`--repo needs a folder; e.g. --repo . (see --help)`);
      }
      options.repo = args[++i]!;
    } else if (arg.startsWith("--repo=")) options.repo = arg.slice("--repo=".length);
    else throw new UsageError(`Unknown argument "${arg}"; see --help`);
  }
  return options;
}

/** What the index tool did to one index file. */
export interface IndexResult {
  path: string;
  status: "current" | "written" | "stale";
  entries: number;
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

/** Runs the index tool; returns the exit code. */
export function main(args: string[]): Promise<number> {
  return runMain(async () => {
    const options = parseIndexArgs(args);
    if (options.help) {
      console.log(HELP);
      return 0;
    }
    const root = await findRepoRoot(Deno.cwd(), options.repo);
    // Three things at once on a cold start: git lists the files in its own processes, the
    // planner's modules load, and the current index files are read (synchronously: eight
    // small files cost less than eight round trips through Deno's async file ops).
    const work = planFromRepo(
      root,
      SCANNED_FOLDERS,
      import("./plan.ts").then((planner) => planner.planIndexes),
      (path) => path.endsWith(".nix"),
      // In the pre-commit hook the index is committed with the files git holds: one naming an
      // untracked file would not evaluate (and pre-commit hides the warning of a passing hook).
      { withUntracked: Deno.env.get("PRE_COMMIT") !== "1" },
    );
    let current: Map<string, string | undefined>;
    try {
      current = new Map(
        INDEX_SPECS.map((spec) => [spec.path, readIndex(root, spec.path)]),
      );
    } catch (error) {
      await work.catch(() => {});
      throw error;
    }
    const { plan: plans, untracked } = await work;
    if (untracked !== undefined) {
      for (const line of untrackedWarnings(plans, untracked)) console.error(line);
    }
    const write = !options.check && !options.dryRun;
    const results = await Promise.all(
      plans.map((plan) => settle(root, plan, current.get(plan.path), write)),
    );
    if (write) removeKilledRunsTemps(root, plans.map((plan) => plan.path));
    const diffs: string[] = [];
    if (results.some((result) => result.status === "stale")) {
      const { unifiedDiff } = await import("../lib/diff.ts");
      plans.forEach((plan, i) => {
        if (results[i]!.status === "stale") {
          diffs.push(unifiedDiff(plan.path, current.get(plan.path) ?? "", plan.content));
        }
      });
    }
    report(results, diffs, options);
    return options.check && results.some((result) => result.status === "stale") ? 1 : 0;
  });
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

function report(results: readonly IndexResult[], diffs: readonly string[], options: IndexOptions) {
  if (options.json) {
    console.log(
      JSON.stringify({ check: options.check, dryRun: options.dryRun, indexes: results }, null, 2),
    );
    return;
  }
  for (const diff of diffs) console.log(diff);
  for (const result of results) {
    if (result.status === "current" && !options.verbose) continue;
    console.error(`${result.status.padEnd(7)} ${result.path} (${result.entries} entries)`);
  }
  const changed = results.filter((result) => result.status !== "current").length;
  if (options.check) {
    console.error(
      changed === 0
        ? `All ${results.length} index files are current`
        : `${changed} of ${results.length} index files are stale; run: deno task index`,
    );
  } else if (options.dryRun) {
    console.error(`Would write ${changed} of ${results.length} index files; wrote nothing`);
  } else if (changed > 0) {
    console.error(`Wrote ${changed} of ${results.length} index files`);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
