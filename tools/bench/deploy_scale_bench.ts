// Benchmarks `deno task deploy` at fleet scale over a modelled network: N sshd test hosts, each
// behind a TCP relay that delays each direction. Run as root: `deno task bench:deploy-scale`.
import { createFixtureFlake, type FixtureFlake } from "../testing/fixture_flake.ts";
import { createProgramsBin, installToolkit, type ProgramsBin } from "../testing/task.ts";
import { startTcpRelay, type TcpRelay } from "../testing/tcp_relay.ts";
import { startTestHosts, type TestHosts } from "../testing/test_hosts.ts";
import {
  attributeConnection,
  type ConnectionFigures,
  formatScale,
  outcomes,
  parseProgressLine,
  parseScaleFlags,
  parseTimeOutput,
  phaseBreakdown,
  type PhaseEvent,
  type PointFigures,
  reportSchema,
  type RoundFigures,
  type ScaleFlags,
  summarisePoint,
  USAGE,
} from "./deploy_scale.ts";
import {
  killMarked,
  machineTicks,
  MARKER_VARIABLE,
  pidsWithCommandLine,
  startCpuSampler,
  treeCpuMs,
} from "./process_tree.ts";

const TIME = "/usr/bin/time";

/** Raised when the user interrupts the benchmark (SIGINT, SIGTERM). */
class Interrupted extends Error {
  constructor() {
    super("Interrupted");
  }
}

/** Cancellation shared by every wait of the benchmark. */
interface Run {
  readonly signal: AbortSignal;
  /** The marker of the deploy running now, so an interruption can end its processes. */
  marker: string | undefined;
}

function checkInterrupted(run: Run): void {
  if (run.signal.aborted) throw new Interrupted();
}

/** One fleet of test hosts behind relays, with a fixture flake that points at the relays. */
interface Fleet extends AsyncDisposable {
  hosts: TestHosts;
  /** The pid of each host's sshd listener, whose waited-for children are its sessions. */
  listeners: number[];
  relays: Map<string, TcpRelay>;
  flake: FixtureFlake;
  bin: ProgramsBin;
}

async function startFleet(count: number, flags: ScaleFlags): Promise<Fleet> {
  const stack = new AsyncDisposableStack();
  try {
    const hosts = stack.use(
      await startTestHosts(count, {
        names: Array.from({ length: count }, (_, i) => `scale${i + 1}`),
      }),
    );
    const relays = new Map<string, TcpRelay>();
    for (const host of hosts.hosts) {
      const relay = stack.use(
        startTcpRelay({ target: { hostname: host.address, port: 22 }, delayMs: flags.delayMs }),
      );
      relays.set(host.name, relay);
    }
    // Deploy reaches each host through its relay: the facts name the relay's address and
    // port; the host key is the host's own, which deploy pins under whatever name it uses.
    const flake = stack.use(
      await createFixtureFlake(hosts.hosts.map((host) => ({
        name: host.name,
        hostPublicKey: host.hostPublicKey,
        facts: {
          address: relays.get(host.name)!.hostname,
          port: relays.get(host.name)!.port,
          confirmTimeout: flags.confirmTimeout,
          healthChecks: [],
        },
      }))),
    );
    await installToolkit(flake.dir);
    const listeners: number[] = [];
    for (const host of hosts.hosts) {
      const [pid] = await pidsWithCommandLine([`${host.dir}/sshd_config`, "[listener]"]);
      if (pid === undefined) throw new Error(`Cannot find the sshd of test host "${host.name}"`);
      listeners.push(pid);
    }
    const bin = stack.use(await createProgramsBin());
    const moved = stack.move();
    return {
      hosts,
      listeners,
      relays,
      flake,
      bin,
      [Symbol.asyncDispose]: () => moved.disposeAsync(),
    };
  } catch (error) {
    await stack.disposeAsync();
    throw error;
  }
}

/** The ssh options that reach test hosts: their client key only. */
function sshFlags(hosts: TestHosts): string[] {
  return [
    "--no-check-sigs",
    "--ssh-option",
    `IdentityFile=${hosts.clientKey}`,
    "--ssh-option",
    "IdentitiesOnly=yes",
    "--ssh-option",
    "IdentityAgent=none",
  ];
}

/** CPU of every host's sshd and its waited-for sessions so far. */
async function targetsCpuMs(fleet: Fleet): Promise<number> {
  let total = 0;
  for (const pid of fleet.listeners) total += await treeCpuMs(pid) ?? 0;
  return total;
}

/** Streams `stream` line by line to `onLine`, with the time each line arrived. */
async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string, at: number) => void,
): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const at = performance.now();
    const lines = (rest + chunk).split("\n");
    rest = lines.pop()!;
    for (const line of lines) onLine(line, at);
  }
  if (rest) onLine(rest, performance.now());
}

/** Runs one `deno task deploy --all` as users run it, timed, its CPU and progress recorded. */
async function measuredDeploy(
  fleet: Fleet,
  flags: ScaleFlags,
  parallel: number,
  run: Run,
): Promise<RoundFigures> {
  checkInterrupted(run);
  const marker = crypto.randomUUID();
  const timeFile = `${fleet.flake.dir}.time`;
  const before = new Map([...fleet.relays].map(([name, relay]) => [name, relay.accepted]));
  const names = new Set(fleet.hosts.hosts.map((h) => h.name));
  const events: PhaseEvent[] = [];
  const stderrTail: string[] = [];
  const args = [
    "task",
    "-q",
    "deploy",
    "--all",
    "--json",
    "--parallel",
    String(parallel),
    "--confirm-timeout",
    String(flags.confirmTimeout),
    ...sshFlags(fleet.hosts),
  ];
  const targetsBefore = await targetsCpuMs(fleet);
  const machineBefore = await machineTicks();
  const sampler = startCpuSampler(marker);
  run.marker = marker;
  const started = performance.now();
  const child = new Deno.Command(TIME, {
    args: ["-f", "%e %U %S", "-o", timeFile, `${fleet.bin.dir}/deno`, ...args],
    cwd: fleet.flake.dir,
    env: { PATH: fleet.bin.dir, NO_COLOR: "1", [MARKER_VARIABLE]: marker },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const killer = setTimeout(() => killMarked(marker, 3000), flags.deployTimeout * 1000);
  try {
    const stdout = new Response(child.stdout).text();
    const stderr = readLines(child.stderr, (line, at) => {
      const event = parseProgressLine(line, names);
      if (event) events.push({ ...event, atMs: at - started });
      stderrTail.push(line);
      if (stderrTail.length > 20) stderrTail.shift();
    });
    const [status, out] = await Promise.all([child.status, stdout, stderr]);
    const wallMs = performance.now() - started;
    const orphanCpuMs = await sampler.stop(child.pid);
    const targetsAfter = await targetsCpuMs(fleet);
    const machineAfter = await machineTicks();
    checkInterrupted(run);
    if (wallMs >= flags.deployTimeout * 1000) {
      throw new Error(`deploy ran over --deploy-timeout ${flags.deployTimeout}s and was killed`);
    }
    const times = parseTimeOutput(await Deno.readTextFile(timeFile));
    let report;
    try {
      report = reportSchema.parse(JSON.parse(out));
    } catch {
      throw new Error(
        `deploy exited ${status.code} without a report: ${stderrTail.join("\n").trim()}`,
      );
    }
    const connections: Record<string, ConnectionFigures[]> = {};
    const now = performance.now();
    for (const [name, relay] of fleet.relays) {
      const hostEvents = events.filter((e) => e.host === name);
      connections[name] = relay.connections.slice(before.get(name)!).map((c) =>
        attributeConnection(hostEvents, {
          openedAtMs: c.openedAt - started,
          closedAtMs: (c.closedAt ?? now) - started,
          bytesToTarget: c.bytesToTarget,
          bytesFromTarget: c.bytesFromTarget,
          turnTimesMs: c.turnTimes.map((t) => t - started),
        })
      );
    }
    return {
      wallMs,
      cpuMs: times.userMs + times.sysMs + orphanCpuMs,
      daemonCpuMs: orphanCpuMs,
      cpuByProgramMs: sampler.byProgram(),
      targetsCpuMs: targetsAfter - targetsBefore,
      machineBusy: (machineAfter.busy - machineBefore.busy) /
        Math.max(1, machineAfter.total - machineBefore.total),
      breakdown: phaseBreakdown(events, wallMs),
      outcomes: outcomes(report),
      connections,
    };
  } finally {
    clearTimeout(killer);
    run.marker = undefined;
    await sampler.stop(child.pid).catch(() => 0);
    // Whatever the deploy left running (an ssh master after a kill) ends with the round.
    await killMarked(marker);
    await Deno.remove(timeFile).catch(() => {});
  }
}

let generation = 0;

/** A new system for every host, so each deploy activates something new (not measured). */
async function nextSystem(flake: FixtureFlake): Promise<void> {
  generation++;
  await flake.update(
    Object.fromEntries(
      flake.hosts.map((h) => [h.name, { toplevel: { marker: `s${generation}` } }]),
    ),
  );
}

function log(message: string): void {
  console.error(message);
}

async function measurePoint(count: number, flags: ScaleFlags, run: Run): Promise<PointFigures> {
  const parallel = flags.parallel ?? count;
  const loadAverage = Number((await Deno.readTextFile("/proc/loadavg")).split(" ")[0]);
  log(
    `${count} host(s), --parallel ${parallel}, load average ${loadAverage}: ` +
      "starting test hosts and relays",
  );
  await using fleet = await startFleet(count, flags);
  const rounds: RoundFigures[] = [];
  for (let i = 0; i < flags.warmup + flags.rounds; i++) {
    checkInterrupted(run);
    await nextSystem(fleet.flake);
    const round = await measuredDeploy(fleet, flags, parallel, run);
    const warm = i < flags.warmup;
    const problems = [...round.outcomes.rolledBack.map((h) => `${h}: rolled back`)]
      .concat(round.outcomes.failed);
    log(
      `  ${warm ? "warm-up" : `round ${i - flags.warmup + 1}`}: ${
        round.wallMs.toFixed(0)
      } ms, cpu ${round.cpuMs.toFixed(0)} ms (ssh masters ${
        round.daemonCpuMs.toFixed(0)
      }), targets ${round.targetsCpuMs.toFixed(0)} ms, machine busy ${
        (round.machineBusy * 100).toFixed(0)
      }%, ${round.outcomes.ok}/${count} ok${
        problems.length > 0 ? `; ${problems.slice(0, 3).join("; ")}` : ""
      }`,
    );
    if (!warm) rounds.push(round);
  }
  return { ...summarisePoint(count, parallel, rounds), loadAverage };
}

/** Entry point; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  let flags: ScaleFlags;
  try {
    flags = parseScaleFlags(args);
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return 2;
  }
  if (flags.help) {
    console.log(USAGE);
    return 0;
  }
  if (Deno.uid() !== 0) {
    console.error("error: the benchmark needs root (test hosts use mount namespaces and port 22)");
    return 2;
  }
  if (!(await Deno.stat(TIME).then((s) => s.isFile, () => false))) {
    console.error(`error: ${TIME} is missing (GNU time measures the deploy's CPU): install time`);
    return 2;
  }
  const controller = new AbortController();
  const run: Run = { signal: controller.signal, marker: undefined };
  const interrupt = () => {
    if (controller.signal.aborted) Deno.exit(130); // a second ^C: leave now
    log("interrupted: stopping the deploy, the relays and the test hosts");
    controller.abort();
    if (run.marker) void killMarked(run.marker, 3000);
  };
  const signals = ["SIGINT", "SIGTERM"] as const;
  for (const s of signals) Deno.addSignalListener(s, interrupt);
  const points: PointFigures[] = [];
  try {
    for (const count of flags.points) points.push(await measurePoint(count, flags, run));
  } catch (error) {
    if (error instanceof Interrupted) return 130;
    console.error(`error: ${(error as Error).message}`);
    return 1;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, interrupt);
  }
  if (flags.json) {
    console.log(JSON.stringify({ delayMs: flags.delayMs, points }, null, 2));
  } else {
    console.log(formatScale(points, flags));
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
