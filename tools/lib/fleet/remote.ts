// What runs on a host, as real shell files beside this one (remote/*.sh, imported as text): the
// POSIX-sh supervisor (lock, activation, magic rollback), the launcher that starts it detached
// from the SSH session, the control script that confirms it, the probe, the health check
// runner and the check that no unit failed because of the deploy. Their output (key=value
// lines) is parsed here, at the boundary, into typed values.
import { shellQuote } from "../quote.ts";
import aliveSh from "./remote/alive.sh" with { type: "text" };
import controlSh from "./remote/control.sh" with { type: "text" };
import healthCheckSh from "./remote/health_check.sh" with { type: "text" };
import invocationsAwk from "./remote/invocations.awk" with { type: "text" };
import launcherSh from "./remote/launcher.sh" with { type: "text" };
import pollSh from "./remote/poll.sh" with { type: "text" };
import probeSh from "./remote/probe.sh" with { type: "text" };
import showStateSh from "./remote/show_state.sh" with { type: "text" };
import statusSh from "./remote/status.sh" with { type: "text" };
import hostFactsSh from "../../../monitoring/host-facts.sh" with { type: "text" };
import supervisorSh from "./remote/supervisor.sh" with { type: "text" };
import unitsCheckSh from "./remote/units_check.sh" with { type: "text" };
import unitsSnapshotSh from "./remote/units_snapshot.sh" with { type: "text" };

/** The system profile on NixOS. */
export const SYSTEM_PROFILE = "/nix/var/nix/profiles/system";
/** The running system on NixOS. */
export const CURRENT_SYSTEM = "/run/current-system";
/** One deploy per host at a time: the supervisor holds a flock on this file until its run is final. */
export const LOCK_FILE = "/run/devops-deploy.lock";
/** Per-run state dirs `<base>/<run id>` (0700), removed once the run is final. */
export const STATE_BASE = "/run/devops-deploy";
/** The last deploy of the host (key=value lines): run id, time, generations, result. */
export const LAST_DEPLOY_RECORD = "/nix/var/devops-deploy/last-deploy";
/**
 * Seconds the units the activation started or restarted are watched after it ended: a unit
 * that starts and fails (or crash-loops into its start limit) within them fails the check.
 * At most half the check's bound (the host's `healthCheckTimeout`, default 60 s). A unit that
 * fails later than this is not seen.
 */
export const UNITS_SETTLE_SECONDS = 5;
/** Bytes of a health check's output (each of stdout, stderr) that reach the deployer: the last ones. */
export const HEALTH_CHECK_OUTPUT_TAIL = 65536;
/** A health check's output files are bounded (`ulimit -f`, in 512-byte blocks: 8 MiB). */
const HEALTH_CHECK_OUTPUT_BLOCKS = 16384;
/** Separates the probe's key=value lines from the closure diff. */
export const DIFF_MARKER = "--- closure diff";
/** Follows the closure diff when it failed, then the last line nix printed. */
export const DIFF_FAILED_MARKER = "--- closure diff failed";

/** The pieces a script takes in with a `# @include <file>` line. */
const INCLUDES: Record<string, string> = {
  "alive.sh": aliveSh,
  "poll.sh": pollSh,
  "show_state.sh": showStateSh,
};

/**
 * A script as it runs on the host: each `# @include <file>` line replaced by that file (its
 * indentation kept on the first line), each `@NAME@` by its value. Throws on a name or file it
 * does not know, so a typo never reaches a host.
 */
export function assembleScript(text: string, values: Record<string, string | number>): string {
  const included = text.replace(/^([ \t]*)# @include (\S+)\n/gm, (_, indent: string, file) => {
    const piece = INCLUDES[file];
    if (piece === undefined) throw new Error(`Cannot assemble a remote script: no ${file}`);
    return indent + piece;
  });
  return included.replace(/@([A-Z_]+)@/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) {
      throw new Error(`Cannot assemble a remote script: no value of ${name}`);
    }
    return String(value);
  });
}

// The awk program goes into the scripts between single quotes: it must hold none.
if (invocationsAwk.includes("'")) throw new Error("remote/invocations.awk holds a single quote");
const AWK = { INVOCATIONS_AWK: invocationsAwk.replace(/\n$/, "") };

/** The snapshot the supervisor takes before the activation: every unit's invocation id. */
export const UNITS_SNAPSHOT_SCRIPT = assembleScript(unitsSnapshotSh, AWK);

/**
 * The built-in health check (remote/units_check.sh): fails when a unit this deploy's activation
 * started or restarted failed (arguments: the units failed before the deploy, not blamed on it).
 */
export const UNITS_CHECK_SCRIPT = assembleScript(unitsCheckSh, AWK);

/**
 * The supervisor (remote/supervisor.sh, which describes its state files). Arguments: state-dir
 * run new-system mode confirm-timeout activation-timeout rollback(0|1) profile current
 * units-check-timeout (0: no check).
 */
export const SUPERVISOR_SCRIPT = assembleScript(supervisorSh, {
  LAST_DEPLOY_RECORD,
  LOCK_FILE,
  UNITS_SETTLE_SECONDS,
  UNITS_CHECK_SCRIPT: shellQuote(UNITS_CHECK_SCRIPT),
  UNITS_SNAPSHOT_SCRIPT: shellQuote(UNITS_SNAPSHOT_SCRIPT),
});

const STATE_PATHS = { STATE_BASE, LAST_DEPLOY_RECORD, CURRENT_SYSTEM, LOCK_FILE };

/**
 * The launcher, run as root over the activation SSH session (remote/launcher.sh). Arguments:
 * supervisor-script run adopt activation-wait by, then the supervisor's own arguments after
 * the state dir and run. It prints the run's state.
 */
export const LAUNCHER_SCRIPT = assembleScript(launcherSh, STATE_PATHS);

/** Actions of the control script. */
export type ControlAction = "confirm" | "abort" | "status";

/**
 * The control script, run as root over a new SSH connection (remote/control.sh). Arguments:
 * run action wait-seconds; prints the run's state.
 */
export const CONTROL_SCRIPT = assembleScript(controlSh, STATE_PATHS);

/**
 * Runs a health check (remote/health_check.sh; arguments: seconds, the check's command) with
 * the login shell's `-c`, bounded on the target; ran over the bound: exit code 124.
 */
export const HEALTH_CHECK_SCRIPT = assembleScript(healthCheckSh, {
  HEALTH_CHECK_OUTPUT_BLOCKS,
  HEALTH_CHECK_OUTPUT_TAIL,
});

/**
 * The probe (remote/probe.sh): the current generation, the profile's and the running system,
 * then (argument: the new system) the closure diff from the current system to the new one.
 */
export const PROBE_SCRIPT = assembleScript(probeSh, {
  SYSTEM_PROFILE,
  CURRENT_SYSTEM,
  DIFF_MARKER,
  DIFF_FAILED_MARKER,
});

/**
 * The status script (remote/status.sh): the host facts of monitoring/host-facts.sh (the one
 * definition of generation, reboot-needed, drift and backup age, shared with the metrics), the
 * running and booted systems, failed units, uptime, load, free space and the last deploy
 * record, in one command. No arguments.
 */
export const STATUS_SCRIPT = assembleScript(statusSh, {
  HOST_FACTS_SCRIPT: shellQuote(hostFactsSh),
  CURRENT_SYSTEM,
  SYSTEM_PROFILE,
  LAST_DEPLOY_RECORD,
});

/** Every script that runs on a host, by the file it is made from (for the suite's checks). */
export const REMOTE_SCRIPTS: Readonly<Record<string, string>> = {
  "supervisor.sh": SUPERVISOR_SCRIPT,
  "launcher.sh": LAUNCHER_SCRIPT,
  "control.sh": CONTROL_SCRIPT,
  "health_check.sh": HEALTH_CHECK_SCRIPT,
  "probe.sh": PROBE_SCRIPT,
  "units_check.sh": UNITS_CHECK_SCRIPT,
  "units_snapshot.sh": UNITS_SNAPSHOT_SCRIPT,
  "status.sh": STATUS_SCRIPT,
};

/** Where a run stands on the host: the supervisor's status word, typed. */
export type RemotePhase =
  /** Not final: the supervisor works (or waits for the confirmation: `activated`). */
  | { kind: "starting" | "activating" | "activated" | "rolling-back" }
  /** Final, a success: confirmed, or done (no confirmation asked: no rollback, or boot). */
  | { kind: "confirmed" | "done" }
  /** Final, no success, with the supervisor's reason (`timeout`, `activation`, …). */
  | { kind: "rolled-back" | "rollback-failed" | "superseded" | "failed"; why: string }
  /** Another run holds the host's lock: nothing was done. */
  | { kind: "busy" }
  /** The host has no state of the run (rebooted, or never started it). */
  | { kind: "gone" }
  /** No status, or one this deployer does not know (kept as said). */
  | { kind: "unknown"; text: string };

const RUNNING = ["starting", "activating", "activated", "rolling-back"] as const;
const ENDED = ["rolled-back", "rollback-failed", "superseded", "failed"] as const;

/** Reads the supervisor's status word (remote/supervisor.sh writes one) into a phase. */
export function parsePhase(status: string | undefined): RemotePhase {
  if (status === undefined) return { kind: "unknown", text: "" };
  for (const kind of RUNNING) if (status === kind) return { kind };
  if (status === "confirmed" || status === "done") return { kind: status };
  if (status === "busy" || status === "gone") return { kind: status };
  for (const kind of ENDED) {
    if (status.startsWith(`${kind}-`) && status.length > kind.length + 1) {
      return { kind, why: status.slice(kind.length + 1) };
    }
  }
  return { kind: "unknown", text: status };
}

/** Whether a phase is final: the supervisor will not change it any more. */
export function isFinal(phase: RemotePhase): boolean {
  return phase.kind === "confirmed" || phase.kind === "done" ||
    (ENDED as readonly string[]).includes(phase.kind);
}

/** The state the launcher and the control script print. */
export interface RemoteState {
  /** The status word as the host said it (the report shows it). */
  status: string;
  /** {@linkcode status}, parsed: what the deployer decides on. */
  phase: RemotePhase;
  dir?: string;
  run?: string;
  supervisor?: string;
  prevGen?: number;
  newGen?: number;
  activeGen?: number;
  activateCode?: number;
  /** The previous run's supervisor was adopted (same system, its deployer gone). */
  adopted?: boolean;
  /** Units failed before the activation (systemd hosts). */
  failedBefore?: string[];
  /** The profile moved away from this run's generation before its rollback. */
  supersededBy?: number;
  /** The system someone else activated on the host during the run's window. */
  supersededCurrent?: string;
  /** Why the rollback's activation failed (it is bounded by the activation timeout). */
  rollbackError?: string;
  /** The system the host runs (`status=gone`: the run's state is lost, e.g. a reboot). */
  current?: string;
  /** The run's supervisor died mid-way (killed): nothing rolls the host back by itself. */
  supervisorLost?: boolean;
  /** The built-in check the supervisor ran after the activation (switch and test). */
  unitsCheck?: UnitsCheck;
  /** Who holds the host's lock (status `busy`). */
  holder?: { run?: string; status?: string; by?: string; started?: string; new?: string };
}

/** The built-in check's result: no unit failed since the activation, or which did. */
export type UnitsCheck = { passed: true } | { passed: false; detail: string };

/** Parses `key=value` lines into a {@linkcode RemoteState}. */
export function parseRemoteState(text: string): RemoteState {
  const values = parseKeyValues(text);
  const num = (v: string | undefined) => (v && /^\d+$/.test(v) ? Number(v) : undefined);
  const state: RemoteState = {
    status: values.status ?? "unknown",
    phase: parsePhase(values.status),
  };
  if (values.dir) state.dir = values.dir;
  if (values.run) state.run = values.run;
  if (values.supervisor) state.supervisor = values.supervisor;
  if (values.adopted === "1") state.adopted = true;
  if (values.supervisor_lost === "1") state.supervisorLost = true;
  if (values.rollback_error) state.rollbackError = values.rollback_error;
  if (values.current) state.current = values.current;
  if (values.superseded_current) state.supersededCurrent = values.superseded_current;
  if (values.units_check === "passed") state.unitsCheck = { passed: true };
  else if (values.units_check === "failed") {
    state.unitsCheck = { passed: false, detail: values.units_check_detail || "failed" };
  }
  if (values.failed_before !== undefined) {
    state.failedBefore = values.failed_before.split(/\s+/).filter(Boolean);
  }
  const fields = [
    ["prevGen", num(values.prev_gen)],
    ["newGen", num(values.new_gen)],
    ["activeGen", num(values.active_gen)],
    ["activateCode", num(values.activate_code)],
    ["supersededBy", num(values.superseded_by)],
  ] as const;
  for (const [key, value] of fields) if (value !== undefined) state[key] = value;
  if (state.status === "busy") {
    const holder: NonNullable<RemoteState["holder"]> = {};
    for (const key of ["run", "status", "by", "started", "new"] as const) {
      const value = values[`holder_${key}`];
      if (value) holder[key] = value;
    }
    state.holder = holder;
  }
  return state;
}

/** `key=value` lines as a record; the last value of a key wins. */
export function parseKeyValues(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) values[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return values;
}

/** What the probe (remote/probe.sh) found on a host. */
export interface ProbeResult {
  /** The system profile's generation number. */
  generation?: number;
  /** The system the diff starts from: the profile's, else the running one. */
  before?: string;
  /** The closure diff: not asked (no new system, or nothing to diff from), done, or failed. */
  diff:
    | { kind: "none" }
    | { kind: "done"; text: string }
    | { kind: "failed"; reason: string };
}

/** Parses the probe's output: key=value lines, then the diff after its markers. */
export function parseProbe(output: string): ProbeResult {
  const [facts = "", rest] = output.split(`${DIFF_MARKER}\n`);
  const values = parseKeyValues(facts);
  const result: ProbeResult = { diff: { kind: "none" } };
  if (values.gen && /^\d+$/.test(values.gen)) result.generation = Number(values.gen);
  const before = values.profile ?? values.current;
  if (before !== undefined) result.before = before;
  if (rest !== undefined) {
    const [text, failed] = rest.split(`${DIFF_FAILED_MARKER}\n`);
    result.diff = failed !== undefined
      ? { kind: "failed", reason: failed.trim() || "nix failed" }
      : { kind: "done", text: (text ?? "").trimEnd() };
  }
  return result;
}

/** Runs `script` with `sh -c` and arguments, as one remote command string. */
export function shCommand(script: string, args: readonly string[]): string {
  return ["sh", "-c", script, "devops-deploy", ...args].map(shellQuote).join(" ");
}
