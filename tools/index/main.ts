// Regenerates the index .nix files from the folder layout: `deno task index [--check]`.
// Kept free of npm imports: it runs in the pre-commit hook and must start in milliseconds.
// Static imports are only what runs before git: the planner loads while git lists the files.
import { UsageError } from "../lib/errors.ts";
import { type IndexResult, regenerateIndexes } from "../lib/index/mod.ts";
import { runMain } from "../lib/main.ts";
import { findRepoRoot } from "../lib/repo.ts";

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

/** Runs the index tool; returns the exit code. */
export function main(args: string[]): Promise<number> {
  return runMain(async () => {
    const options = parseIndexArgs(args);
    if (options.help) {
      console.log(HELP);
      return 0;
    }
    const root = await findRepoRoot(Deno.cwd(), options.repo);
    const { results, diffs, warnings } = await regenerateIndexes(root, {
      write: !options.check && !options.dryRun,
      // In the pre-commit hook the index is committed with the files git holds: one naming an
      // untracked file would not evaluate (and pre-commit hides the warning of a passing hook).
      withUntracked: Deno.env.get("PRE_COMMIT") !== "1",
    });
    for (const line of warnings) console.error(line);
    report(results, diffs, options);
    return options.check && results.some((result) => result.status === "stale") ? 1 : 0;
  });
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
