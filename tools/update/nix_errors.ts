// One line for a failed nix command: nix's whole error (with the lines it continues on, such as
// a hash mismatch's `specified:`/`got:`), and the builder's last log line if any.
import { CommandError } from "../lib/errors.ts";

/** Exit code the process runner gives a command it killed at its time bound. */
const TIMED_OUT = 124;

/**
 * Nix's last error with its continuation lines joined into one line:
 * `hash mismatch in file downloaded from 'http://…': specified: sha256:… got: sha256:…`.
 */
export function nixCause(stderr: string): string {
  const lines = stderr.split("\n");
  const start = lines.findLastIndex((line) => /^error\b/i.test(line.trim()));
  if (start < 0) {
    return lines.map((l) => l.trim()).filter(Boolean).at(-1) ?? "";
  }
  const parts = [lines[start]!.trim().replace(/^error:\s*/, "")];
  for (const line of lines.slice(start + 1)) {
    // Continuation lines are indented; nix's trace hint and log lines are not part of it.
    if (!/^\s+\S/.test(line) || /^\s*\(use '--show-trace'/.test(line)) break;
    parts.push(line.trim());
  }
  return parts.join(" ").replace(/\s+/g, " ");
}

/** `builder for '…drv' failed with exit code 1 (last log: web2 breaks)`, or the error's message. */
export function nixFailure(error: unknown): string {
  if (!(error instanceof CommandError)) {
    return (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, "; ");
  }
  if (error.code === TIMED_OUT) {
    const bound = /timed out after (\d+) s/.exec(error.stderrTail)?.[1];
    return `${error.command.split(" ").slice(0, 2).join(" ")} did not finish within ${
      bound ?? "its"
    } s and was stopped (a download during it may be stalled; raise --timeout or --build-timeout)`;
  }
  const cause = nixCause(error.stderrTail);
  // With -L, nix prefixes each build log line with `<name>> `.
  const log = error.stderrTail.split("\n").findLast((line) => /^[\w.+-]+> \S/.test(line.trim()));
  return log === undefined ? cause : `${cause} (last log line: ${log.trim()})`;
}
