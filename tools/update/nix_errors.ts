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
  // nix's `error:` lines, and git's `fatal:` (followed by advice whose last line is no cause).
  const starts = lines.flatMap((line, i) => /^(?:error|fatal)\b/i.test(line.trim()) ? [i] : []);
  if (starts.length === 0) {
    return lines.map((l) => l.trim()).filter(Boolean).at(-1) ?? "";
  }
  const block = (start: number) => {
    const parts = [lines[start]!.trim().replace(/^(?:error|fatal):\s*/i, "")];
    for (const line of lines.slice(start + 1)) {
      // Continuation lines are indented; nix's trace hint is not part of it.
      if (!/^\s+\S/.test(line) || /^\s*\(use '--show-trace'/.test(line)) break;
      if (/^\s*For full logs, run/.test(line)) break;
      parts.push(line.trim());
    }
    return parts.join(" ").replace(/\s+/g, " ");
  };
  const blocks = starts.map(block);
  // "1 dependencies of derivation … failed to build" only says that an earlier one failed:
  // name the builder that failed, with its last log lines.
  const last = blocks.at(-1)!;
  const builder = blocks.find((b) => /^builder for /.test(b) || /^hash mismatch/.test(b));
  return /dependencies of derivation .* failed to build$/.test(last) && builder !== undefined
    ? builder
    : last;
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
