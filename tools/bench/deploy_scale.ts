// The pure parts of the deploy scale benchmark (tools/bench/deploy_scale_bench.ts): its flags,
// what it reads from a deploy's output, and the summary it prints.
import { parseArgs } from "node:util";
import { z } from "zod";
import { median } from "./timing.ts";

/** The benchmark's settings. */
export interface ScaleFlags {
  /** Host counts to measure, ascending (the first is the base of the ratios). */
  points: number[];
  /** One-way delay of each host's relay, in milliseconds. */
  delayMs: number;
  /** Measured deploys per point. */
  rounds: number;
  /** Unmeasured deploys per point before the measured ones (the first creates the profile). */
  warmup: number;
  /** `--confirm-timeout` of every deploy, in seconds. */
  confirmTimeout: number;
  /** `--parallel` of every deploy; undefined: the point's host count. */
  parallel: number | undefined;
  /** Seconds before a deploy that has not ended is killed. */
  deployTimeout: number;
  json: boolean;
  help: boolean;
}

/** The benchmark's usage text. */
export const USAGE = `Usage: deno task bench:deploy-scale [options]

Runs \`deno task deploy --all\` against N sshd test hosts, each behind a TCP relay on loopback
that delays each direction, and reports the scale curve, the deployer's CPU per host, SSH
connections per host, spurious rollbacks and where the time goes. Run as root.

Options:
  --hosts <n,n,…>          host counts to measure (default 1,4,16,32)
  --delay-ms <ms>          one-way delay of each relay (default 25: 50 ms round trips)
  --rounds <n>             measured deploys per point (default 3)
  --warmup <n>             unmeasured deploys per point first (default 1)
  --confirm-timeout <s>    deploy --confirm-timeout (default 10)
  --parallel <n>           deploy --parallel (default: the point's host count)
  --deploy-timeout <s>     kill a deploy that runs longer (default 600)
  --json                   print the results as JSON
  --help                   show this text
`;

function wholeNumber(value: string, flag: string, min: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min) {
    throw new Error(`Invalid ${flag} "${value}": expected a whole number ≥ ${min}`);
  }
  return Number(value);
}

/** Parses the benchmark's flags; throws a one-line error naming the flag. */
export function parseScaleFlags(args: readonly string[]): ScaleFlags {
  const { values, positionals } = parseArgs({
    args: [...args],
    strict: true,
    allowPositionals: true,
    options: {
      hosts: { type: "string", default: "1,4,16,32" },
      "delay-ms": { type: "string", default: "25" },
      rounds: { type: "string", default: "3" },
      warmup: { type: "string", default: "1" },
      "confirm-timeout": { type: "string", default: "10" },
      parallel: { type: "string" },
      "deploy-timeout": { type: "string", default: "600" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (positionals.length > 0) throw new Error(`Unexpected argument "${positionals[0]}"`);
  const points = values.hosts.split(",").map((v) => wholeNumber(v.trim(), "--hosts", 1));
  if (points.some((n) => n > 200)) {
    throw new Error(`Invalid --hosts "${values.hosts}": at most 200 test hosts`);
  }
  return {
    points: [...new Set(points)].sort((a, b) => a - b),
    delayMs: wholeNumber(values["delay-ms"], "--delay-ms", 0),
    rounds: wholeNumber(values.rounds, "--rounds", 1),
    warmup: wholeNumber(values.warmup, "--warmup", 0),
    confirmTimeout: wholeNumber(values["confirm-timeout"], "--confirm-timeout", 1),
    parallel: values.parallel === undefined
      ? undefined
      : wholeNumber(values.parallel, "--parallel", 1),
    deployTimeout: wholeNumber(values["deploy-timeout"], "--deploy-timeout", 1),
    json: values.json,
    help: values.help,
  };
}

/** The phases deploy prints per host (tools/deploy/progress.ts), in their usual order. */
export const PHASES = [
  "waiting",
  "evaluating",
  "building",
  "connecting",
  "copying",
  "diffing",
  "asking",
  "activating",
  "checking",
  "confirming",
  "recovering",
  "ok",
  "failed",
] as const;

/** One of {@linkcode PHASES}. */
export type Phase = typeof PHASES[number];

/** A progress line of deploy on a pipe, as the benchmark received it. */
export interface PhaseEvent {
  /** Milliseconds since the deploy was started. */
  atMs: number;
  host: string;
  phase: Phase;
}

const PROGRESS_LINE = new RegExp(`^(\\S+) +(${PHASES.join("|")})(?::|$)`);

/** Reads `<host>  <phase>[: detail]` (deploy's plain progress line); undefined for other lines. */
export function parseProgressLine(line: string, hosts: ReadonlySet<string>): {
  host: string;
  phase: Phase;
} | undefined {
  const match = PROGRESS_LINE.exec(line);
  if (match === null || !hosts.has(match[1]!)) return undefined;
  return { host: match[1]!, phase: match[2] as Phase };
}

/** Time per phase: each host's phase lasts until its next line; `ok`/`failed` end it. */
export interface Breakdown {
  /** Before the first progress line: deno start-up and reading the facts (`nix eval`). */
  startupMs: number;
  /** After every host ended: closing connections, the report, the process exit. */
  finishMs: number;
  /** Per phase, the median over hosts of the time spent in it (0 for a host that skipped it). */
  medianMs: Partial<Record<Phase, number>>;
  /** Per phase, the longest any host spent in it. */
  maxMs: Partial<Record<Phase, number>>;
}

/** Where a deploy's time went, from its progress lines and its total wall time. */
export function phaseBreakdown(events: readonly PhaseEvent[], wallMs: number): Breakdown {
  const byHost = new Map<string, PhaseEvent[]>();
  for (const event of events) byHost.set(event.host, [...byHost.get(event.host) ?? [], event]);
  const spent = new Map<Phase, number[]>();
  let lastEnd = 0;
  for (const hostEvents of byHost.values()) {
    const totals = new Map<Phase, number>();
    hostEvents.forEach((event, i) => {
      if (event.phase === "ok" || event.phase === "failed") {
        lastEnd = Math.max(lastEnd, event.atMs);
        return;
      }
      const next = hostEvents[i + 1]?.atMs ?? wallMs;
      totals.set(event.phase, (totals.get(event.phase) ?? 0) + next - event.atMs);
    });
    for (const phase of totals.keys()) if (!spent.has(phase)) spent.set(phase, []);
    for (const [phase, list] of spent) list.push(totals.get(phase) ?? 0);
  }
  // A phase first seen on a later host: the earlier hosts spent 0 in it.
  const hostCount = byHost.size;
  const medianMs: Partial<Record<Phase, number>> = {};
  const maxMs: Partial<Record<Phase, number>> = {};
  for (const phase of PHASES) {
    const list = spent.get(phase);
    if (list === undefined) continue;
    const padded = [...Array(hostCount - list.length).fill(0), ...list];
    medianMs[phase] = median(padded);
    maxMs[phase] = Math.max(...padded);
  }
  const first = events.length === 0 ? wallMs : Math.min(...events.map((e) => e.atMs));
  return {
    startupMs: first,
    finishMs: events.length === 0 ? 0 : Math.max(0, wallMs - lastEnd),
    medianMs,
    maxMs,
  };
}

/** Parses GNU time's `-f "%e %U %S"` output: wall, user and system seconds. */
export function parseTimeOutput(text: string): { wallMs: number; userMs: number; sysMs: number } {
  const line = text.trim().split("\n").at(-1) ?? "";
  const match = /^(\d+(?:\.\d+)?) (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)$/.exec(line);
  if (match === null) throw new Error(`Cannot read /usr/bin/time output: ${JSON.stringify(text)}`);
  const ms = (v: string) => Math.round(Number(v) * 1000);
  return { wallMs: ms(match[1]!), userMs: ms(match[2]!), sysMs: ms(match[3]!) };
}

/** The fields of deploy's `--json` report the benchmark reads (others are ignored). */
export const reportSchema = z.object({
  ok: z.boolean(),
  hosts: z.array(z.object({
    host: z.string(),
    result: z.string(),
    failedStep: z.string().optional(),
    error: z.string().optional(),
    status: z.string().optional(),
    rolledBack: z.union([z.boolean(), z.literal("expected")]),
    durationMs: z.number(),
  })),
});

/** What the benchmark reads of a deploy's report. */
export type ScaleReport = z.infer<typeof reportSchema>;

/** How the hosts of one deploy ended; every benchmark host is healthy. */
export interface Outcomes {
  ok: number;
  /** Healthy hosts that rolled back (every rollback is spurious here): host names. */
  rolledBack: string[];
  /** Hosts that failed without a rollback: `host: step: error`. */
  failed: string[];
}

/** Counts the outcomes of a report. */
export function outcomes(report: ScaleReport): Outcomes {
  const result: Outcomes = { ok: 0, rolledBack: [], failed: [] };
  for (const host of report.hosts) {
    if (host.rolledBack === true || (host.status ?? "").startsWith("rolled-back")) {
      result.rolledBack.push(host.host);
    } else if (host.result !== "ok") {
      result.failed.push(`${host.host}: ${host.failedStep ?? "?"}: ${host.error ?? ""}`);
    } else {
      result.ok++;
    }
  }
  return result;
}

/** One relayed connection of one host in one deploy. */
export interface ConnectionFigures {
  /** The host's phase when the connection was opened (`startup` before its first line). */
  openedIn: string;
  durationMs: number;
  bytesToTarget: number;
  bytesFromTarget: number;
  turns: number;
  /** The connection's turns (round trips) by the host's phase when each happened. */
  turnsByPhase: Record<string, number>;
}

/** The host's phase at `atMs` (milliseconds since the deploy started): its last line before. */
export function phaseAt(hostEvents: readonly PhaseEvent[], atMs: number): string {
  let phase = "startup";
  for (const event of hostEvents) {
    if (event.atMs > atMs) break;
    phase = event.phase;
  }
  return phase;
}

/** What the relay recorded of a connection, times relative to the deploy's start. */
export interface RelayedConnection {
  openedAtMs: number;
  closedAtMs: number;
  bytesToTarget: number;
  bytesFromTarget: number;
  turnTimesMs: readonly number[];
}

/** A relayed connection with its turns attributed to the host's phases. */
export function attributeConnection(
  hostEvents: readonly PhaseEvent[],
  connection: RelayedConnection,
): ConnectionFigures {
  const turnsByPhase: Record<string, number> = {};
  for (const at of connection.turnTimesMs) {
    const phase = phaseAt(hostEvents, at);
    turnsByPhase[phase] = (turnsByPhase[phase] ?? 0) + 1;
  }
  return {
    openedIn: phaseAt(hostEvents, connection.openedAtMs),
    durationMs: Math.round(connection.closedAtMs - connection.openedAtMs),
    bytesToTarget: connection.bytesToTarget,
    bytesFromTarget: connection.bytesFromTarget,
    turns: connection.turnTimesMs.length,
    turnsByPhase,
  };
}

/** One measured deploy. */
export interface RoundFigures {
  wallMs: number;
  /** User + system CPU of the deploy's process tree (its sshd targets excluded). */
  cpuMs: number;
  /** The part of `cpuMs` of daemons no deploy process waited for (ssh masters). */
  daemonCpuMs: number;
  /** Sampled CPU by program (deno, nix, ssh…): a lower bound of each one's share of `cpuMs`. */
  cpuByProgramMs: Record<string, number>;
  /**
   * CPU of the targets' sshd and what their sessions ran (copy, probe, activation, confirm;
   * not the detached supervisor), summed over hosts.
   */
  targetsCpuMs: number;
  /** Share of the machine's CPU time that was busy during the deploy (anyone's work), 0–1. */
  machineBusy: number;
  breakdown: Breakdown;
  outcomes: Outcomes;
  /** Per host, the connections its relay accepted during the deploy. */
  connections: Record<string, ConnectionFigures[]>;
}

/** One point of the scale curve: medians over its rounds. */
export interface PointFigures {
  hosts: number;
  parallel: number;
  rounds: RoundFigures[];
  wallMs: number;
  cpuPerHostMs: number;
  /** Sampled deployer CPU per host by program, median over rounds. */
  cpuPerHostByProgramMs: Record<string, number>;
  targetsCpuPerHostMs: number;
  machineBusy: number;
  connectionsPerHost: number;
  turnsPerHost: number;
  /** Spurious rollbacks, summed over the rounds. */
  rolledBack: number;
  failed: number;
  /** The machine's 1-minute load average when the point started (others' work included). */
  loadAverage?: number;
}

/** Medians of a point's rounds. */
export function summarisePoint(
  hosts: number,
  parallel: number,
  rounds: RoundFigures[],
): PointFigures {
  const perHost = (f: (r: RoundFigures) => number) => median(rounds.map(f)) / hosts;
  const all = (r: RoundFigures) => Object.values(r.connections);
  return {
    hosts,
    parallel,
    rounds,
    wallMs: median(rounds.map((r) => r.wallMs)),
    cpuPerHostMs: perHost((r) => r.cpuMs),
    cpuPerHostByProgramMs: Object.fromEntries(
      [...new Set(rounds.flatMap((r) => Object.keys(r.cpuByProgramMs)))].sort().map((name) => [
        name,
        perHost((r) => r.cpuByProgramMs[name] ?? 0),
      ]),
    ),
    targetsCpuPerHostMs: perHost((r) => r.targetsCpuMs),
    machineBusy: median(rounds.map((r) => r.machineBusy)),
    connectionsPerHost: perHost((r) => all(r).reduce((sum, list) => sum + list.length, 0)),
    turnsPerHost: perHost((r) =>
      all(r).reduce((sum, list) => sum + list.reduce((s, c) => s + c.turns, 0), 0)
    ),
    rolledBack: rounds.reduce((sum, r) => sum + r.outcomes.rolledBack.length, 0),
    failed: rounds.reduce((sum, r) => sum + r.outcomes.failed.length, 0),
  };
}

/** A target of issue 14 and whether the figures meet it. */
export interface TargetCheck {
  target: string;
  value: string;
  met: boolean;
}

/** The issue's targets that these points can judge (a point that was not run is left out). */
export function checkTargets(points: readonly PointFigures[]): TargetCheck[] {
  const at = (n: number) => points.find((p) => p.hosts === n);
  const one = at(1);
  const checks: TargetCheck[] = [];
  for (const [n, limit] of [[4, 1.5], [32, 4]] as const) {
    const point = at(n);
    if (one && point) {
      const ratio = point.wallMs / one.wallMs;
      checks.push({
        target: `${n} hosts ≤ ${limit}× one host`,
        value: `${ratio.toFixed(2)}×`,
        met: ratio <= limit,
      });
    }
  }
  const four = at(4);
  const many = at(32);
  if (four && many) {
    const change = many.cpuPerHostMs / four.cpuPerHostMs - 1;
    checks.push({
      target: "CPU per host at 32 within 25% of 4",
      value: `${change >= 0 ? "+" : ""}${(change * 100).toFixed(0)}%`,
      met: Math.abs(change) <= 0.25,
    });
  }
  if (many) {
    checks.push({
      target: `0 spurious rollbacks at 32 hosts --parallel ${many.parallel}`,
      value: String(many.rolledBack),
      met: many.rolledBack === 0,
    });
  }
  return checks;
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), ...rows.map(line)].join("\n");
}

/** Per point: connections opened and turns per phase, for the median host of the last round. */
function formatRoundTrips(points: readonly PointFigures[]): string {
  const phases = new Set<string>();
  const perHost = points.map((p) => {
    const last = p.rounds.at(-1);
    const hosts = Object.values(last?.connections ?? {}).map((list) => {
      const opened: Record<string, number> = {};
      const turns: Record<string, number> = {};
      for (const c of list) {
        opened[c.openedIn] = (opened[c.openedIn] ?? 0) + 1;
        phases.add(c.openedIn);
        for (const [phase, n] of Object.entries(c.turnsByPhase)) {
          turns[phase] = (turns[phase] ?? 0) + n;
          phases.add(phase);
        }
      }
      return { opened, turns };
    });
    return { hosts: p.hosts, list: hosts };
  });
  const order = ["startup", ...PHASES].filter((phase) => phases.has(phase));
  const cell = (
    list: { opened: Record<string, number>; turns: Record<string, number> }[],
    phase: string,
  ) =>
    `${median(list.map((h) => h.opened[phase] ?? 0))}c ${
      median(list.map((h) => h.turns[phase] ?? 0))
    }t`;
  return table(
    ["hosts", ...order],
    perHost.map((p) => [String(p.hosts), ...order.map((phase) => cell(p.list, phase))]),
  );
}

/** The human summary: the scale curve, the per-phase breakdown and the targets. */
export function formatScale(
  points: readonly PointFigures[],
  flags: Pick<ScaleFlags, "delayMs" | "confirmTimeout">,
): string {
  const base = points[0];
  const ms = (v: number) => v.toFixed(0);
  const curve = table(
    [
      "hosts",
      "parallel",
      "wall ms",
      `× ${base?.hosts ?? 1}`,
      "cpu/host ms",
      "targets cpu/host",
      "busy",
      "conns/host",
      "turns/host",
      "rolled back",
      "failed",
      "load",
    ],
    points.map((p) => [
      String(p.hosts),
      String(p.parallel),
      ms(p.wallMs),
      base ? (p.wallMs / base.wallMs).toFixed(2) : "",
      ms(p.cpuPerHostMs),
      ms(p.targetsCpuPerHostMs),
      `${(p.machineBusy * 100).toFixed(0)}%`,
      p.connectionsPerHost.toFixed(1),
      p.turnsPerHost.toFixed(0),
      String(p.rolledBack),
      String(p.failed),
      p.loadAverage === undefined ? "" : p.loadAverage.toFixed(1),
    ]),
  );
  const rtt = formatRoundTrips(points);
  const phases = PHASES.filter((phase) =>
    phase !== "ok" && phase !== "failed" &&
    points.some((p) => p.rounds.some((r) => r.breakdown.medianMs[phase] !== undefined))
  );
  const medianOf = (p: PointFigures, f: (b: Breakdown) => number | undefined) =>
    median(p.rounds.map((r) => f(r.breakdown) ?? 0));
  const breakdown = table(
    ["hosts", "startup", ...phases, "finish"],
    points.map((p) => [
      String(p.hosts),
      ms(medianOf(p, (b) => b.startupMs)),
      ...phases.map((phase) =>
        `${ms(medianOf(p, (b) => b.medianMs[phase]))}/${ms(medianOf(p, (b) => b.maxMs[phase]))}`
      ),
      ms(medianOf(p, (b) => b.finishMs)),
    ]),
  );
  const programs = points.map((p) =>
    `${String(p.hosts).padEnd(5)}  ${
      Object.entries(p.cpuPerHostByProgramMs).sort(([, a], [, b]) => b - a)
        .map(([name, v]) => `${name} ${ms(v)}`).join(", ")
    }`
  );
  const targets = checkTargets(points).map((c) =>
    `  ${c.met ? "met    " : "MISSED "} ${c.target}: ${c.value}`
  );
  return [
    `relay delay ${flags.delayMs} ms each way, confirm timeout ${flags.confirmTimeout} s; ` +
    "medians over rounds",
    curve,
    "",
    "time per phase, ms (median host / slowest host; startup and finish are the whole deploy's)",
    breakdown,
    "",
    "deployer CPU per host by program, ms (sampled every 100 ms: a lower bound of each share)",
    ...programs,
    "",
    "SSH connections opened and round trips (relay turns) per host, by the host's phase " +
    "(median host of the last round)",
    rtt,
    ...(targets.length > 0 ? ["", "targets (issue 14):", ...targets] : []),
  ].join("\n");
}
