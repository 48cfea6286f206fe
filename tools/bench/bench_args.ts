// The command line of a benchmark: `--help` prints its usage and starts nothing, `--runs N`
// sets how many timed runs it makes (and `--hosts N`, for a benchmark that starts test hosts,
// how many), anything else is refused with one line (exit 2).
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
  /** Hosts started when `--hosts` is not given; without it, `--hosts` is refused. */
  defaultHosts?: number;
}

/** The parsed command line: a request for help, a refusal, or the runs to make. */
export type BenchArgs =
  | { kind: "help"; text: string }
  | { kind: "refused"; message: string }
  | { kind: "run"; runs: number; hosts: number | undefined };

/** The `--help` text of a benchmark. */
export function benchHelp(usage: BenchUsage): string {
  return [
    `Usage: deno task ${usage.task} [--runs N]${
      usage.defaultHosts === undefined ? "" : " [--hosts N]"
    }`,
    "",
    usage.summary,
    "",
    "Options:",
    `  --runs N   timed runs per figure (default ${usage.defaultRuns})`,
    ...(usage.defaultHosts === undefined
      ? []
      : [`  --hosts N  test hosts started at once (default ${usage.defaultHosts})`]),
    "  -h, --help show this help and start nothing",
  ].join("\n");
}

/** Reads a benchmark's arguments; never throws. */
export function parseBenchArgs(args: string[], usage: BenchUsage): BenchArgs {
  let values: { help?: boolean; runs?: string; hosts?: string };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        help: { type: "boolean", short: "h" },
        runs: { type: "string" },
        hosts: { type: "string" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    // node's messages run over several lines; the first names the cause.
    const cause = (error as Error).message.split("\n")[0]!.replace(/\.$/, "");
    return { kind: "refused", message: `${cause}; see --help` };
  }
  if (values.help) return { kind: "help", text: benchHelp(usage) };
  if (values.hosts !== undefined && usage.defaultHosts === undefined) {
    return { kind: "refused", message: `${usage.task} starts no test hosts: --hosts is not its` };
  }
  const runs = count("--runs", values.runs, usage.defaultRuns);
  if (typeof runs === "string") return { kind: "refused", message: runs };
  const hosts = usage.defaultHosts === undefined
    ? undefined
    : count("--hosts", values.hosts, usage.defaultHosts);
  if (typeof hosts === "string") return { kind: "refused", message: hosts };
  return { kind: "run", runs, hosts };
}

/** A whole number of at least 1, the default when absent, or the refusal's text. */
function count(flag: string, value: string | undefined, fallback: number): number | string {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
    return `${flag} must be a whole number of at least 1, got "${value}"`;
  }
  return n;
}

/**
 * Parses the arguments of the benchmark that is the main module: prints help or the refusal and
 * exits, or returns the runs to make.
 */
export function benchRunsOrExit(args: string[], usage: BenchUsage): number {
  return benchArgsOrExit(args, usage).runs;
}

/** As {@linkcode benchRunsOrExit}, with the hosts too. */
export function benchArgsOrExit(
  args: string[],
  usage: BenchUsage,
): { runs: number; hosts: number | undefined } {
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
      return { runs: parsed.runs, hosts: parsed.hosts };
  }
}
