// A Runner on Deno.Command, with no npm import: for tools whose start-up counts (dax alone
// takes about 100 ms to load). Same contract as createRunner(): --dry-run, --verbose, okCodes,
// timeouts, and a CommandError with the command line and its output tail. startProcess() is
// for a command whose lifetime its caller manages (streams, signals, a process group).
import { CommandError } from "./errors.ts";
import { formatCommand } from "./quote.ts";
import type { CommandResult, CommandSpec, Runner } from "./runner.ts";

/** Options for {@linkcode createProcessRunner}. */
export interface ProcessRunnerOptions {
  dryRun?: boolean;
  verbose?: boolean;
  /** Where progress and dry-run lines go; stderr unless a test collects them. */
  write?: (line: string) => void;
}

const TAIL_LINES = 20;

function tail(text: string): string {
  return text.trimEnd().split("\n").slice(-TAIL_LINES).join("\n");
}

/** Makes a {@linkcode Runner} that starts each command with Deno.Command. */
export function createProcessRunner(options: ProcessRunnerOptions = {}): Runner {
  const dryRun = options.dryRun ?? false;
  const verbose = options.verbose ?? false;
  const write = options.write ?? ((line: string) => console.error(line));
  const decoder = new TextDecoder();

  async function run(spec: CommandSpec): Promise<CommandResult> {
    const shown = formatCommand(spec.argv);
    if (dryRun && spec.mutates) {
      write(`would run: ${shown}`);
      return { code: 0, stdout: "", stderr: "", skipped: true };
    }
    if (verbose) write(`$ ${shown}`);
    const timeout = spec.timeoutMs === undefined ? undefined : AbortSignal.timeout(spec.timeoutMs);
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(spec.argv[0]!, {
        args: spec.argv.slice(1),
        ...(spec.cwd === undefined ? {} : { cwd: spec.cwd }),
        ...(spec.env === undefined ? {} : { env: spec.env }),
        ...(spec.clearEnv ? { clearEnv: true } : {}),
        stdin: spec.stdin === undefined ? "null" : "piped",
        stdout: spec.discardStdout ? "null" : "piped",
        stderr: "piped",
        ...(timeout === undefined ? {} : { signal: timeout }),
      }).spawn();
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new CommandError(shown, 127, `${spec.argv[0]}: command not found`);
      }
      throw error;
    }
    if (spec.stdin !== undefined) {
      const writer = child.stdin.getWriter();
      const bytes = typeof spec.stdin === "string"
        ? new TextEncoder().encode(spec.stdin)
        : spec.stdin;
      await writer.write(bytes).catch(() => {});
      await writer.close().catch(() => {});
    }
    const [status, outBytes, errBytes] = await Promise.all([
      child.status,
      spec.discardStdout ? new ArrayBuffer(0) : new Response(child.stdout).arrayBuffer(),
      new Response(child.stderr).arrayBuffer(),
    ]);
    const stdout = decoder.decode(outBytes);
    let stderr = decoder.decode(errBytes);
    let code = status.code;
    if (timeout?.aborted) {
      code = 124;
      stderr = `${stderr}\ntimed out after ${Math.round(spec.timeoutMs! / 1000)} s`;
    }
    const shownOut = spec.secretStdout ? "" : stdout;
    if (verbose && (shownOut || stderr)) write(tail(`${shownOut}${stderr}`));
    if (code !== 0 && !(spec.okCodes ?? []).includes(code)) {
      throw new CommandError(shown, code, tail(stderr || shownOut));
    }
    return { code, stdout, stderr, skipped: false };
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

/** How {@linkcode startProcess} starts a command: each stream piped, inherited or closed. */
export interface StartOptions {
  stdin: "piped" | "null";
  /** `piped` unless given. */
  stdout?: "piped" | "inherit" | "null";
  /** `piped` unless given. */
  stderr?: "piped" | "inherit" | "null";
  /**
   * In a session and process group of its own (`setsid`): its children stop with it when the
   * caller signals the group (`-pid`), and a terminal's Ctrl-C reaches only the caller.
   */
  detached?: boolean;
  cwd?: string;
  env?: Record<string, string>;
}

/** A command started by {@linkcode startProcess}, whose streams its caller reads and writes. */
export interface StartedProcess {
  readonly pid: number;
  /** Its stdin, when started with `stdin: "piped"`. */
  stdin: WritableStream<Uint8Array> | undefined;
  /** Its stdout, when piped. */
  stdout: ReadableStream<Uint8Array> | undefined;
  /** Its stderr, when piped: read it, or {@linkcode StartedProcess.stderrLastLine}. */
  stderr: ReadableStream<Uint8Array> | undefined;
  /** Reads its stderr to the end: the last non-empty line ("" when not piped). */
  stderrLastLine(): Promise<string>;
  status: Promise<Deno.CommandStatus>;
  /** Sends `signal`; nothing if it has ended. */
  kill(signal: Deno.Signal): void;
}

/**
 * Starts a command whose lifetime its caller manages: it writes the stdin and reads the stdout
 * while the command runs (iso's `dd` of an image), or keeps it running and signals it (the
 * demo's namespace, a test host's sshd), where {@linkcode createProcessRunner}'s `run()` waits
 * for the end. A program that is not there fails here with the same `CommandError` (code 127).
 */
export function startProcess(argv: readonly string[], options: StartOptions): StartedProcess {
  const stdout = options.stdout ?? "piped";
  const stderr = options.stderr ?? "piped";
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.env === undefined ? {} : { env: options.env }),
      stdin: options.stdin,
      stdout,
      stderr,
      ...(options.detached ? { detached: true } : {}),
    }).spawn();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new CommandError(formatCommand(argv), 127, `${argv[0]}: command not found`);
    }
    throw error;
  }
  return {
    pid: child.pid,
    stdin: options.stdin === "piped" ? child.stdin : undefined,
    stdout: stdout === "piped" ? child.stdout : undefined,
    stderr: stderr === "piped" ? child.stderr : undefined,
    async stderrLastLine() {
      if (stderr !== "piped") return "";
      const text = await new Response(child.stderr).text();
      return text.trim().split("\n").filter(Boolean).at(-1) ?? "";
    },
    status: child.status,
    kill(signal) {
      try {
        child.kill(signal);
      } catch {
        // It has ended.
      }
    },
  };
}
