// The command line of a benchmark: `--help` prints its usage and starts nothing, `--runs N`
// sets how many timed runs it makes, anything else is refused with one line (exit 2).
// node:util's parseArgs does the parsing; a benchmark has too few flags for commander.
import { parseArgs } from "node:util";

/** What a benchmark says about itself in `--help`. */
export interface BenchUsage {
  /** The task that runs it, e.g. `bench:index`. */
  task: string;
  /** One line: what it measures. */
  summary: string;
  /** Runs made when `--runs` is not given. */
  defaultRuns: number;
}

/** The parsed command line: a request for help, a refusal, or the runs to make. */
export type BenchArgs =
  | { kind: "help"; text: string }
  | { kind: "refused"; message: string }
  | { kind: "run"; runs: number };

/** The `--help` text of a benchmark. */
export function benchHelp(usage: BenchUsage): string {
  return [
    `Usage: deno task ${usage.task} [--runs N]`,
    "",
    usage.summary,
    "",
    "Options:",
    `  --runs N   timed runs per figure (default ${usage.defaultRuns})`,
    "  -h, --help show this help and start nothing",
  ].join("\n");
}

/** Reads a benchmark's arguments; never throws. */
export function parseBenchArgs(args: string[], usage: BenchUsage): BenchArgs {
  let values: { help?: boolean; runs?: string };
  try {
    ({ values } = parseArgs({
      args,
      options: { help: { type: "boolean", short: "h" }, runs: { type: "string" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    // node's messages run over several lines; the first names the cause.
    const cause = (error as Error).message.split("\n")[0]!.replace(/\.$/, "");
    return { kind: "refused", message: `${cause}; see --help` };
  }
  if (values.help) return { kind: "help", text: benchHelp(usage) };
  if (values.runs === undefined) return { kind: "run", runs: usage.defaultRuns };
  const runs = Number(values.runs);
  if (!/^[0-9]+$/.test(values.runs) || !Number.isSafeInteger(runs) || runs < 1) {
    return {
      kind: "refused",
      message: `--runs must be a whole number of at least 1, got "${values.runs}"`,
    };
  }
  return { kind: "run", runs };
}

/**
 * Parses the arguments of the benchmark that is the main module: prints help or the refusal and
 * exits, or returns the runs to make.
 */
export function benchRunsOrExit(args: string[], usage: BenchUsage): number {
  const parsed = parseBenchArgs(args, usage);
  switch (parsed.kind) {
    case "help":
      console.log(parsed.text);
      Deno.exit(0);
      break;
    case "refused":
      console.error(`error: ${parsed.message}`);
      Deno.exit(2);
      break;
    case "run":
      return parsed.runs;
  }
}
