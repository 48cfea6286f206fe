// How one host's deploy ended, as a typed union (one case per way it can end), and the short
// one-line causes the report shows.
import { causeLine, CommandError, oneLineMessage } from "../lib/errors.ts";
import type { StepId } from "./steps.ts";

/** Why the target rolled back (the supervisor's `rolled-back-<why>`). */
export type RollbackReason =
  | "activation"
  | "activation-timeout"
  | "health-check"
  | "timeout"
  /** The run's state dir was removed during the run (it is no confirmation). */
  | "state-removed";

/** How one host's deploy ended. */
export type HostOutcome =
  /** The new system runs and is confirmed (or set for boot, or dry-activated). */
  | { kind: "confirmed" | "done" | "dry-activated"; adopted?: boolean }
  /** A step before the activation failed: the host still runs what it ran. */
  | { kind: "failed"; step: StepId | "eval" | "build" | "ask"; cause: string }
  /** Another deploy holds the host's lock: nothing was done. */
  | { kind: "busy"; cause: string }
  /** The target rolled back to the previous generation. */
  | { kind: "rolled-back"; reason: RollbackReason; cause: string }
  /** The target tried to roll back and a step of it failed. */
  | { kind: "rollback-failed"; reason: RollbackReason; cause: string }
  /** The activation failed and there was no rollback to do (--no-rollback). */
  | { kind: "activation-failed"; status: string; cause: string }
  /**
   * The profile moved away from this run's generation before its rollback (someone switched
   * by hand): nothing was rolled back; `reason` is why the run would have.
   */
  | { kind: "superseded"; reason?: RollbackReason; cause: string }
  /**
   * No final answer within the bound: its supervisor decides; `unguarded`: nothing on the host
   * rolls back by itself (its supervisor died, or the host lost the run's state).
   */
  | { kind: "unknown"; step: StepId; lastStatus?: string; cause: string; unguarded?: true }
  /**
   * The deployer was interrupted (SIGINT/SIGTERM) during `step`, or (`before`) while `step`
   * waited for its turn: it never started.
   */
  | { kind: "interrupted"; step: StepId | "eval" | "build"; cause: string; before?: true };

/** Whether the outcome is a success. */
export function isSuccess(
  outcome: HostOutcome,
): outcome is Extract<HostOutcome, { kind: "confirmed" | "done" | "dry-activated" }> {
  return outcome.kind === "confirmed" || outcome.kind === "done" ||
    outcome.kind === "dry-activated";
}

const MAX_CAUSE = 160;

/** Options of {@linkcode shortCause}. */
export interface CauseOptions {
  /** Adds the full command line (the report's error field then can be long). */
  verbose?: boolean;
  /** The step's timeout, to say how long it waited. */
  timeoutSeconds?: number;
  /** ssh's ConnectTimeout, to say how long a connection attempt waited. */
  connectTimeout?: number;
}

/**
 * The cause first, on one line under ~160 characters: `ssh: connection timed out (10 s) to
 * 192.0.2.10:22`, `nix: error: …`, `timed out after 60 s`; the command line only when verbose.
 */
export function shortCause(error: unknown, options: CauseOptions = {}): string {
  let text: string;
  if (error instanceof CommandError) {
    const program = (error.command.split(" ")[0] ?? "").replace(/^.*\//, "").replace(/^'|'$/g, "");
    if (error.code === 124 && options.timeoutSeconds !== undefined) {
      text = `${program}: timed out after ${options.timeoutSeconds} s`;
    } else {
      const line = causeLine(error.stderrTail);
      const ssh = /^ssh: connect to host (\S+) port (\d+): (.*)$/i.exec(line);
      if (ssh) {
        const reason = ssh[3]!.toLowerCase();
        const waited = /timed out/.test(reason) && options.connectTimeout !== undefined
          ? ` (${options.connectTimeout} s)`
          : "";
        text = `ssh: ${reason}${waited} to ${ssh[1]}:${ssh[2]}`;
      } else if (line) {
        // ssh exits 255 for its own failures; any other code is the remote command's, and so
        // is what it printed: the target's words, not ssh's.
        const who = program === "ssh" && error.code !== 255 ? "target" : program;
        text = line.toLowerCase().startsWith(`${who}:`) ? line : `${who}: ${line}`;
      } else {
        text = program === "ssh" && error.code !== 255
          ? `the target's command exited with code ${error.code}`
          : `${program} exited with code ${error.code}`;
      }
    }
    if (options.verbose) return `${text} (command: ${error.command})`;
  } else {
    // The tool's own messages are written short and carry what matters (fingerprints).
    return oneLineMessage(error);
  }
  return text.length <= MAX_CAUSE ? text : `${text.slice(0, MAX_CAUSE - 1)}…`;
}
