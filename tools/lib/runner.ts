// The command runner every tool goes through: real runs, --dry-run and --verbose in one place.
import defaultDollar, { type KillSignal } from "dax";
import { CommandError } from "./errors.ts";
import { formatCommand } from "./quote.ts";
import { printable } from "./terminal.ts";

/** The dax `$` a runner drives; injected so tests and tools share one code path. */
export type Dollar = typeof defaultDollar;

/** One command to run. */
export interface CommandSpec {
  argv: readonly string[];
  cwd?: string;
  env?: Record<string, string>;
  /** Start from an empty environment: the command sees only `env` (e.g. no HOME keys). */
  clearEnv?: boolean;
  stdin?: string | Uint8Array;
  /** Changes something (a file, a host, the store): skipped and only printed under --dry-run. */
  mutates?: boolean;
  /** Exit codes that are data, not failures (e.g. `[1]` for "differs"). */
  okCodes?: readonly number[];
  /** Milliseconds before the command is killed. */
  timeoutMs?: number;
  /**
   * Send stdout to /dev/null: for commands that print secrets (`sops decrypt` as an identity
   * check). Their output never enters this process, so --verbose and errors cannot show it.
   */
  discardStdout?: boolean;
  /**
   * stdout holds secrets the caller needs (`sops decrypt` of a file to check): returned, but
   * never shown (not under --verbose, not in a CommandError).
   */
  secretStdout?: boolean;
}

/** What a command left behind. */
export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
  /** True when the command was not run because of --dry-run. */
  skipped: boolean;
}

/** Runs commands; the one place that knows about --dry-run and --verbose. */
export interface Runner {
  readonly dryRun: boolean;
  readonly verbose: boolean;
  run(spec: CommandSpec): Promise<CommandResult>;
  /** Runs and returns stdout, trimmed of its final newline. */
  text(spec: CommandSpec): Promise<string>;
  /** Progress for people, on stderr. */
  log(message: string): void;
}

/** Options for {@linkcode createRunner}. */
export interface RunnerOptions {
  dryRun?: boolean;
  verbose?: boolean;
  $?: Dollar;
  /** Where progress and dry-run lines go; stderr unless a test collects them. */
  write?: (line: string) => void;
  /** Kills every running command when it fires (a tool's SIGINT/SIGTERM handler). */
  killSignal?: KillSignal;
}

const TAIL_LINES = 20;

function tail(text: string, lines = TAIL_LINES): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** Makes a {@linkcode Runner} over dax. */
export function createRunner(options: RunnerOptions = {}): Runner {
  const $ = options.$ ?? defaultDollar;
  const dryRun = options.dryRun ?? false;
  const verbose = options.verbose ?? false;
  // Commands' output and the arguments shown come from elsewhere: no raw control character.
  const sink = options.write ?? ((line: string) => console.error(line));
  const write = (line: string) => sink(printable(line));

  async function run(spec: CommandSpec): Promise<CommandResult> {
    const shown = formatCommand(spec.argv);
    if (dryRun && spec.mutates) {
      write(`would run: ${shown}`);
      return { code: 0, stdout: "", stderr: "", skipped: true };
    }
    if (verbose) write(`$ ${shown}`);
    let builder = $`${[...spec.argv]}`.stdout(spec.discardStdout ? "null" : "piped")
      .stderr("piped").noThrow();
    if (spec.cwd !== undefined) builder = builder.cwd(spec.cwd);
    if (spec.clearEnv) builder = builder.clearEnv();
    if (spec.env !== undefined) builder = builder.env(spec.env);
    builder = typeof spec.stdin === "string"
      ? builder.stdinText(spec.stdin)
      : builder.stdin(spec.stdin ?? "null");
    if (spec.timeoutMs !== undefined) builder = builder.timeout(spec.timeoutMs);
    if (options.killSignal !== undefined) builder = builder.signal(options.killSignal);
    const result = await builder;
    const stdout = spec.discardStdout ? "" : result.stdout;
    const stderr = result.stderr;
    const shownOut = spec.secretStdout ? "" : stdout;
    if (verbose && (shownOut || stderr)) write(tail(`${shownOut}${stderr}`));
    if (result.code !== 0 && !(spec.okCodes ?? []).includes(result.code)) {
      throw new CommandError(shown, result.code, tail(stderr || shownOut));
    }
    return { code: result.code, stdout, stderr, skipped: false };
  }

  return {
    dryRun,
    verbose,
    run,
    async text(spec) {
      return (await run(spec)).stdout.replace(/\n$/, "");
    },
    log: write,
  };
}
