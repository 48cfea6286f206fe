// One line for a failed nix command: nix's own error, and the builder's last log line if any.
import { causeLine, CommandError } from "../lib/errors.ts";

/** `builder for '…drv' failed with exit code 1 (last log: web2 breaks)`, or the error's message. */
export function nixFailure(error: unknown): string {
  if (!(error instanceof CommandError)) {
    return (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, "; ");
  }
  const cause = causeLine(error.stderrTail).replace(/^error:\s*/, "");
  // With -L, nix prefixes each build log line with `<name>> `.
  const log = error.stderrTail.split("\n").findLast((line) => /^[\w.+-]+> \S/.test(line.trim()));
  return log === undefined ? cause : `${cause} (last log line: ${log.trim()})`;
}
