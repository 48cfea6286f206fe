// What a host's status is, from what the status script (tools/lib/fleet/remote/status.sh)
// printed: pure functions from its text (and the evaluated toplevel, with --eval) to a typed
// report, its problems and the one-line verdict. The definitions of generation, reboot-needed,
// drift from the last deploy and backup age are the host facts' (monitoring/host-facts.sh,
// read here from its metrics); this file only reads them.
import { parseKeyValues, parsePhase, type RemotePhase, type SshFailure } from "../fleet/mod.ts";

/** Below this many bytes free on `/` or `/nix`, a host is not healthy: 1 GiB. */
export const MIN_FREE_BYTES = 1024 ** 3;

/** The parts of a system whose change needs a reboot (host-facts.sh compares these). */
export const REBOOT_PARTS = ["kernel", "initrd", "kernel-modules", "systemd"] as const;

/** The last deploy record (the supervisor's key=value lines), as status shows it. */
export interface DeployRecord {
  run?: string;
  /** Who deployed (the deployer's user@machine). */
  by?: string;
  /** When the run ended (UTC, ISO 8601). */
  time?: string;
  mode?: string;
  /** The supervisor's final status word, as written. */
  status: string;
  outcome: RemotePhase;
  /** The system that ran before the run. */
  previous?: string;
  /** The system the run deployed. */
  next?: string;
  prevGen?: number;
  newGen?: number;
}

/** Whether the host must reboot to run its current system (host-facts' definition). */
export type Reboot =
  | { needed: false }
  | { needed: true; parts: string[] }
  /** No /run/booted-system or /run/current-system: nothing to compare. */
  | { needed: "unknown" };

/**
 * The running system against what it should be: the last deploy record (host-facts'
 * `devops_system_drift`), and with --eval the repository's evaluated toplevel too.
 */
export type Drift =
  /** Runs what deploy left (and, with --eval, what the repository evaluates to). */
  | { kind: "in-step" }
  /** Runs what deploy left, but the repository now evaluates to another system (--eval). */
  | { kind: "behind"; evaluated: string }
  /** Runs a system deploy did not leave: someone switched by hand (nixos-rebuild, a profile). */
  | { kind: "changed-outside-deploy"; running: string }
  /** Cannot tell (no deploy record, a record that names no system, no running system). */
  | { kind: "unknown"; why: string };

/** Backups (the kopia module's): none declared, never succeeded, or the last success's age. */
export type Backup =
  | { kind: "absent" }
  | { kind: "never" }
  | { kind: "age"; seconds: number };

/** Failed units: the list, or why there is none (no systemd, systemctl gave no answer). */
export type FailedUnits =
  | { kind: "listed"; units: string[] }
  | { kind: "no-systemd" }
  | { kind: "unknown" };

/** A host that answered: everything the status script found, judged. */
export interface ReachableStatus {
  kind: "reachable";
  host: string;
  generation?: number;
  /** When the generation was made (UTC, ISO 8601). */
  generationDate?: string;
  /** The running system's store path (/run/current-system). */
  system?: string;
  booted?: string;
  record?: DeployRecord;
  reboot: Reboot;
  drift: Drift;
  failedUnits: FailedUnits;
  uptimeSeconds?: number;
  load?: [number, number, number];
  /** Bytes free on the file systems of `/` and `/nix`. */
  free: { root?: number; nix?: number };
  backup: Backup;
  /** What keeps the host from being in step and healthy, one phrase each; empty: it is. */
  problems: string[];
}

/** Why a host gave no status. */
export type UnreachableReason = SshFailure["kind"] | "status-failed";

/** A host that gave no status, and why. */
export interface UnreachableStatus {
  kind: "unreachable";
  host: string;
  reason: UnreachableReason;
  detail: string;
}

/** One host's status. */
export type HostStatus = ReachableStatus | UnreachableStatus;

/** The status script's output, split and read (no judgement yet). */
export interface StatusFacts {
  /** The host facts' metrics: `name` or `name{labels}` → value. */
  metrics: Map<string, number>;
  values: Record<string, string>;
  failedUnits: string[];
  record?: Record<string, string>;
}

/** Splits the status script's output into its sections and reads each. */
export function parseStatusOutput(text: string): StatusFacts {
  const sections = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const line of text.split("\n")) {
    const marker = /^--- (facts|status|record)$/.exec(line);
    if (marker) {
      current = [];
      sections.set(marker[1]!, current);
    } else current?.push(line);
  }
  if (!sections.has("status")) throw new Error("no status section in the host's answer");
  const metrics = new Map<string, number>();
  for (const line of sections.get("facts") ?? []) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    const value = Number(line.slice(space + 1));
    if (space > 0 && Number.isFinite(value)) metrics.set(line.slice(0, space), value);
  }
  const statusLines = sections.get("status")!;
  const failedUnits = statusLines.filter((l) => l.startsWith("failed_unit="))
    .map((l) => l.slice("failed_unit=".length));
  const values = parseKeyValues(
    statusLines.filter((l) => !l.startsWith("failed_unit=")).join("\n"),
  );
  const facts: StatusFacts = { metrics, values, failedUnits };
  const record = sections.get("record")?.join("\n") ?? "";
  if (record.trim() !== "") facts.record = parseKeyValues(record);
  return facts;
}

/** The record's fields status shows, typed (the same key=value lines deploy reads). */
export function readDeployRecord(values: Record<string, string>): DeployRecord {
  const record: DeployRecord = {
    status: values.status ?? "unknown",
    outcome: parsePhase(values.status),
  };
  const num = (v: string | undefined) => (v && /^\d+$/.test(v) ? Number(v) : undefined);
  const text = [
    ["run", values.run],
    ["by", values.by],
    ["time", values.time],
    ["mode", values.mode],
    ["previous", values.prev_active || values.prev_path],
    ["next", values.new],
  ] as const;
  for (const [key, value] of text) if (value) record[key] = value;
  const prevGen = num(values.prev_gen);
  const newGen = num(values.new_gen);
  if (prevGen !== undefined) record.prevGen = prevGen;
  if (newGen !== undefined) record.newGen = newGen;
  return record;
}

function numberOf(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+(\.\d+)?$/.test(value)) return undefined;
  return Number(value);
}

/** What --eval found for a host: its evaluated toplevel, or why there is none. */
export type Evaluated = { ok: true; toplevel: string } | { ok: false; why: string };

/**
 * Judges a host from its status facts: the host facts' reboot, drift and backup, with --eval
 * the evaluated toplevel against the running system, and the problems that keep the host from
 * being in step and healthy. Pure.
 */
export function judgeHost(
  host: string,
  facts: StatusFacts,
  evaluated?: Evaluated,
): ReachableStatus {
  const m = facts.metrics;
  const v = facts.values;
  const status: ReachableStatus = {
    kind: "reachable",
    host,
    reboot: { needed: "unknown" },
    drift: { kind: "unknown", why: "no deploy record" },
    failedUnits: { kind: "unknown" },
    free: {},
    backup: { kind: "absent" },
    problems: [],
  };
  const generation = m.get("devops_system_generation");
  if (generation !== undefined) status.generation = generation;
  const made = numberOf(v.generation_time);
  if (made !== undefined) status.generationDate = new Date(made * 1000).toISOString();
  if (v.current) status.system = v.current;
  if (v.booted) status.booted = v.booted;
  if (facts.record) status.record = readDeployRecord(facts.record);

  const reboot = m.get("devops_reboot_required");
  if (reboot === 0) status.reboot = { needed: false };
  else if (reboot === 1) {
    const parts = REBOOT_PARTS.filter((p) =>
      m.get(`devops_reboot_required_part{part="${p}"}`) === 1
    );
    status.reboot = { needed: true, parts };
  }

  const recorded = m.get("devops_deploy_record_present");
  const drift = m.get("devops_system_drift");
  if (recorded !== 1) status.drift = { kind: "unknown", why: "no deploy record" };
  else if (drift === undefined) {
    status.drift = { kind: "unknown", why: "the deploy record names no running system" };
  } else if (drift === 1) {
    status.drift = { kind: "changed-outside-deploy", running: v.current ?? "" };
  } else if (evaluated === undefined) status.drift = { kind: "in-step" };
  else if (!evaluated.ok) status.drift = { kind: "unknown", why: evaluated.why };
  else if (evaluated.toplevel === v.current) status.drift = { kind: "in-step" };
  else status.drift = { kind: "behind", evaluated: evaluated.toplevel };

  if (v.units === "listed") status.failedUnits = { kind: "listed", units: facts.failedUnits };
  else if (v.units === "no-systemd") status.failedUnits = { kind: "no-systemd" };

  const uptime = numberOf(v.uptime);
  if (uptime !== undefined) status.uptimeSeconds = uptime;
  const load = (v.load ?? "").split(/\s+/).map(numberOf);
  if (load.length === 3 && load.every((n) => n !== undefined)) {
    status.load = load as [number, number, number];
  }
  const root = numberOf(v.free_root);
  const nix = numberOf(v.free_nix);
  if (root !== undefined) status.free.root = root;
  if (nix !== undefined) status.free.nix = nix;

  if (m.has('devops_backup_max_age_seconds{backup="kopia"}')) {
    const last = m.get('devops_backup_last_success_timestamp_seconds{backup="kopia"}');
    const now = numberOf(v.now);
    status.backup = last === undefined || now === undefined
      ? { kind: "never" }
      : { kind: "age", seconds: Math.max(0, now - last) };
  }
  status.problems = problemsOf(status);
  return status;
}

/** What keeps a reachable host from being in step and healthy, one phrase each. */
export function problemsOf(s: ReachableStatus): string[] {
  const problems: string[] = [];
  switch (s.drift.kind) {
    case "behind":
      problems.push("behind the repository");
      break;
    case "changed-outside-deploy":
      problems.push("changed outside deploy");
      break;
    case "unknown":
      problems.push(`drift unknown (${s.drift.why})`);
      break;
  }
  if (
    s.record !== undefined && s.record.outcome.kind !== "confirmed" &&
    s.record.outcome.kind !== "done"
  ) {
    problems.push(`last deploy ${s.record.status}`);
  }
  if (s.reboot.needed === true) problems.push(`reboot needed (${s.reboot.parts.join(", ")})`);
  if (s.failedUnits.kind === "listed" && s.failedUnits.units.length > 0) {
    const n = s.failedUnits.units.length;
    problems.push(`${n} failed unit${n === 1 ? "" : "s"}: ${s.failedUnits.units.join(", ")}`);
  }
  if (s.failedUnits.kind === "unknown") {
    problems.push("failed units unknown (no answer from systemctl)");
  }
  for (const [name, bytes] of [["/", s.free.root], ["/nix", s.free.nix]] as const) {
    if (bytes !== undefined && bytes < MIN_FREE_BYTES) {
      problems.push(`low space on ${name} (${formatBytes(bytes)} free)`);
    }
  }
  if (s.backup.kind === "never") problems.push("kopia backup never succeeded");
  return problems;
}

/** Whether every host is reachable, in step and healthy (the exit code 0 condition). */
export function allHealthy(statuses: readonly HostStatus[]): boolean {
  return statuses.every((s) => s.kind === "reachable" && s.problems.length === 0);
}

/** The one-line verdict of a host: `in step, healthy`, or its problems, or why it gave none. */
export function verdictLine(s: HostStatus): string {
  if (s.kind === "unreachable") return `unreachable (${s.reason}): ${s.detail}`;
  return s.problems.length === 0 ? "in step, healthy" : s.problems.join("; ");
}

/** Bytes as `12.3 GiB` (or MiB below a GiB). */
export function formatBytes(bytes: number): string {
  if (bytes >= 1024 ** 3) return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
  return `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
}

/** Seconds as `3d 4h`, `5h 6m`, `7m` or `8s`. */
export function formatDuration(seconds: number): string {
  const d = Math.floor(seconds / 86400);
  const h = Math.floor((seconds % 86400) / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  if (d > 0) return `${d}d ${h}h`;
  if (h > 0) return `${h}h ${m}m`;
  if (m > 0) return `${m}m`;
  return `${Math.floor(seconds)}s`;
}
