// Error types the tools throw and the one place that turns any error into a one-line message.

/** Bad command-line input: exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A command that ran and failed; carries the command line and the tail of its stderr. */
export class CommandError extends Error {
  override name = "CommandError";
  readonly command: string;
  readonly code: number;
  readonly stderrTail: string;

  constructor(command: string, code: number, stderrTail: string) {
    const tail = stderrTail.trim();
    const lastLine = causeLine(tail);
    super(
      `Command failed with exit code ${code}: ${command}${lastLine ? `: ${lastLine}` : ""}`,
    );
    this.command = command;
    this.code = code;
    this.stderrTail = tail;
  }
}

/**
 * The line of a failed command's stderr that names the cause: the last `error:` line (nix
 * ends with a hint about --show-trace after it), else the last line.
 */
export function causeLine(stderr: string): string {
  const lines = stderr.trim().split("\n").map((line) => line.trim()).filter(Boolean);
  const errorLine = lines.findLast((line) => /^error\b/i.test(line));
  return errorLine ?? lines.at(-1) ?? "";
}

/** Exit code for an error: 2 for usage errors, 1 for everything else. */
export function exitCodeFor(error: unknown): number {
  return error instanceof UsageError ? 2 : 1;
}

/** One line naming the cause, for stderr. */
export function oneLineMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s*\n\s*/g, "; ").trim();
}
