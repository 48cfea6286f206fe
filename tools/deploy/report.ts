// The deploy report: per host result, generations, rollback; as a table and as JSON.
import type { HostOutcome } from "./outcome.ts";

/** How one host ended. */
export type HostResult = "ok" | "failed";

/**
 * When one step of a host ran, in milliseconds since the deploy started. `queuedMs` is when a
 * gated step (schedule.ts) asked to start; it started at `startMs` (the wait is the difference).
 * The shared `build` step (evaluation and build of all hosts) shows in every host's list.
 */
export interface StepTiming {
  step: string;
  queuedMs?: number;
  startMs: number;
  endMs: number;
}

/** One host's line of the report. */
export interface HostReport {
  host: string;
  address: string;
  result: HostResult;
  /** The step that failed: eval, build, connect, copy, diff, ask, activate, health, confirm. */
  failedStep?: string;
  /** One-line cause when the host failed. */
  error?: string;
  /** The system profile generation before the deploy. */
  previousGeneration?: number;
  /** The generation the deploy created. */
  newGeneration?: number;
  /**
   * The generation the host runs when the deploy ended (the profile's, but with `--mode boot`
   * the one still running until a reboot; absent when that is no generation of the profile).
   */
  activeGeneration?: number;
  /** The new system's store path. */
  path?: string;
  /** The supervisor's final state (`confirmed`, `rolled-back-timeout`, …). */
  status?: string;
  /** True when the target rolled back; "expected" when the host was unreachable to say. */
  rolledBack: boolean | "expected";
  /** `nix store diff-closures` output against the host's previous system. */
  closureDiff?: string;
  /** The run of a dead deployer whose activation this run adopted and confirmed. */
  adoptedRun?: string;
  /** How the host's deploy ended, as a typed value. */
  outcome?: HostOutcome;
  durationMs: number;
  /** The steps that ran, in order, with their times. */
  steps?: StepTiming[];
}

/** The whole deploy's report (what `--json` prints). */
export interface DeployReport {
  mode: string;
  ok: boolean;
  hosts: HostReport[];
}

/** `2 → 3`, `– → 1`, `2` (no new generation). */
export function generationText(report: HostReport): string {
  const prev = report.previousGeneration === undefined ? "–" : String(report.previousGeneration);
  if (report.newGeneration === undefined || report.newGeneration === report.previousGeneration) {
    return prev;
  }
  const arrow = `${prev} → ${report.newGeneration}`;
  return report.activeGeneration !== undefined && report.activeGeneration !== report.newGeneration
    ? `${arrow} (now ${report.activeGeneration})`
    : arrow;
}

/** `1.2s`, `2m03s`. */
export function durationText(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

function rolledBackText(report: HostReport): string {
  const value = report.rolledBack;
  if (value !== "expected") return value ? "yes" : "no";
  // What the host said last, when it answered: it was reachable.
  const last = report.outcome?.kind === "unknown" ? report.outcome.lastStatus : undefined;
  return last ? `expected (last seen: ${last})` : "expected (unreachable)";
}

/** The summary table for people. */
export function reportTable(report: DeployReport): string {
  const header = ["host", "generation", "result", "duration", "rolled back"];
  const rows = report.hosts.map((h) => [
    h.host,
    generationText(h),
    h.result === "ok"
      ? (h.status && h.status !== "confirmed" && h.status !== "done" ? `ok (${h.status})` : "ok")
      : `failed at ${h.failedStep ?? "?"}: ${h.error ?? ""}`,
    durationText(h.durationMs),
    rolledBackText(h),
  ]);
  const widths = header.map((_, i) =>
    Math.max(header[i]!.length, ...rows.map((r) => (i === 2 ? 0 : r[i]!.length)))
  );
  // The result column goes last so long error messages do not stretch the table.
  const order = [0, 1, 3, 4, 2];
  const line = (cells: string[]) =>
    order.map((i) => (i === 2 ? cells[i]! : cells[i]!.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}
