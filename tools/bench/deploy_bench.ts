// Benchmarks `deno task deploy` over a modelled network, in one run: N sshd test hosts, each
// behind a TCP relay that delays each direction (the scale curve, CPU, connections, rollbacks,
// where the time goes), the tool against the same steps by hand through the same relay, and
// reading host facts. Run as root: `deno task bench:deploy`.
import { testHostFlags } from "../deploy/_test_flags.ts";
import { parseFleetFacts, readFleetFacts } from "../lib/fleet/mod.ts";
import { createRunner } from "../lib/runner.ts";
import { createFixtureFlake, type FixtureFlake } from "../testing/fixture_flake.ts";
import { createProgramsBin, installToolkit, type ProgramsBin } from "../testing/task.ts";
import { startTcpRelay, type TcpRelay } from "../testing/tcp_relay.ts";
import { startTestHosts, type TestHosts } from "../testing/test_hosts.ts";
import {
  attributeConnection,
  type ByHandRound,
  checkTargets,
  type ConnectionFigures,
  formatScale,
  outcomes,
  type OverheadFigures,
  parseProgressLine,
  parseScaleFlags,
  parseTimeOutput,
  phaseBreakdown,
  type PhaseEvent,
  type PointFigures,
  reportSchema,
  type RoundFigures,
  type ScaleFlags,
  stepBreakdown,
  summariseOverhead,
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
  waitChildrenReaped,
} from "./process_tree.ts";
import { median } from "./timing.ts";

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

/**
 * Runs one `deno task deploy <selection…>` as users run it, timed, its CPU and progress
 * recorded (e.g. `--all --parallel 4`, or one host with `--no-rollback`).
 */
async function measuredDeploy(
  fleet: Fleet,
  flags: ScaleFlags,
  selection: readonly string[],
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
    ...selection,
    "--json",
    "--confirm-timeout",
    String(flags.confirmTimeout),
    ...testHostFlags(fleet.hosts),
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
    const machineAfter = await machineTicks();
    // A session's CPU reaches its listener's once the listener has reaped it, which can be a
    // moment after the deploy ended (the relay passes the close on with its delay).
    await waitChildrenReaped(fleet.listeners, 5000);
    const targetsAfter = await targetsCpuMs(fleet);
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
    const steps = stepBreakdown(report);
    return {
      wallMs,
      cpuMs: times.userMs + times.sysMs + orphanCpuMs,
      daemonCpuMs: orphanCpuMs,
      cpuByProgramMs: sampler.byProgram(),
      targetsCpuMs: targetsAfter - targetsBefore,
      machineBusy: (machineAfter.busy - machineBefore.busy) /
        Math.max(1, machineAfter.total - machineBefore.total),
      breakdown: phaseBreakdown(events, wallMs),
      ...(steps ? { steps } : {}),
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

/** Runs one command of the steps by hand, marked and bounded like a deploy; returns stdout. */
async function handStep(
  fleet: Fleet,
  argv: readonly string[],
  env: Record<string, string>,
  flags: ScaleFlags,
  run: Run,
): Promise<string> {
  checkInterrupted(run);
  const marker = crypto.randomUUID();
  run.marker = marker;
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    cwd: fleet.flake.dir,
    env: { PATH: fleet.bin.dir, NO_COLOR: "1", ...env, [MARKER_VARIABLE]: marker },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const started = performance.now();
  const killer = setTimeout(() => killMarked(marker, 3000), flags.deployTimeout * 1000);
  try {
    const out = await child.output();
    checkInterrupted(run);
    if (performance.now() - started >= flags.deployTimeout * 1000) {
      throw new Error(`${argv[0]} by hand ran over --deploy-timeout ${flags.deployTimeout}s`);
    }
    const decoder = new TextDecoder();
    if (out.code !== 0) {
      throw new Error(
        `${argv.slice(0, 2).join(" ")} by hand exited ${out.code}: ${
          decoder.decode(out.stderr).trim().split("\n").slice(-3).join(" ")
        }`,
      );
    }
    return decoder.decode(out.stdout);
  } finally {
    clearTimeout(killer);
    run.marker = undefined;
    await killMarked(marker);
  }
}

const SYSTEM_PROFILE = "/nix/var/nix/profiles/system";

/**
 * The work `deploy <host> --no-rollback` does, as a person would type it, through the host's
 * relay: build the system, copy its closure (one connection), then one ssh that shows the
 * closure diff, sets the profile, switches and lists failed units (a second connection).
 * The build is included, as it is in the tool's time.
 */
async function byHand(fleet: Fleet, name: string, flags: ScaleFlags, run: Run) {
  const host = fleet.hosts.host(name);
  const relay = fleet.relays.get(name)!;
  // The relay's address, the host's own pinned key (known_hosts names it by its address).
  const sshOptions =
    `-F ${fleet.hosts.sshConfigFile} -p ${relay.port} -o HostKeyAlias=${host.address}`;
  const stepsMs: Record<string, number> = {};
  const started = performance.now();
  let at = started;
  const lap = (step: string) => {
    const now = performance.now();
    stepsMs[step] = now - at;
    at = now;
  };
  const built = await handStep(
    fleet,
    ["nix", "build", "--json", "--no-link", fleet.flake.toplevelRef(name)],
    {},
    flags,
    run,
  );
  const path = (JSON.parse(built) as { outputs: { out: string } }[])[0]!.outputs.out;
  lap("build");
  await handStep(
    fleet,
    [
      "nix",
      "copy",
      "--to",
      `ssh-ng://root@${relay.hostname}`,
      "--substitute-on-destination",
      "--no-check-sigs",
      path,
    ],
    { NIX_SSHOPTS: sshOptions },
    flags,
    run,
  );
  lap("copy");
  const remote = [
    `nix --extra-experimental-features nix-command store diff-closures ${SYSTEM_PROFILE} ${path}`,
    `nix-env -p ${SYSTEM_PROFILE} --set ${path}`,
    `${path}/bin/switch-to-configuration switch`,
    `${path}/sw/bin/systemctl list-units --state=failed --no-legend --plain`,
  ].join(" && ");
  await handStep(
    fleet,
    ["ssh", ...sshOptions.split(" "), "--", `root@${relay.hostname}`, remote],
    {},
    flags,
    run,
  );
  lap("diff+activate+units");
  return { wallMs: performance.now() - started, stepsMs } satisfies ByHandRound;
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

function roundLine(label: string, count: number, round: RoundFigures): string {
  const problems = [...round.outcomes.rolledBack.map((h) => `${h}: rolled back`)]
    .concat(round.outcomes.failed);
  return `  ${label}: ${round.wallMs.toFixed(0)} ms, cpu ${
    round.cpuMs.toFixed(0)
  } ms (ssh masters ${round.daemonCpuMs.toFixed(0)}), targets ${
    round.targetsCpuMs.toFixed(0)
  } ms, machine busy ${(round.machineBusy * 100).toFixed(0)}%, ${round.outcomes.ok}/${count} ok${
    problems.length > 0 ? `; ${problems.slice(0, 3).join("; ")}` : ""
  }`;
}

/** A point of the curve and, when asked, the overhead rounds taken in turn with its rounds. */
async function measurePoint(
  count: number,
  flags: ScaleFlags,
  run: Run,
  withOverhead: boolean,
): Promise<{ point: PointFigures; overhead?: OverheadFigures }> {
  const parallel = flags.parallel ?? count;
  const loadAverage = Number((await Deno.readTextFile("/proc/loadavg")).split(" ")[0]);
  log(
    `${count} host(s), --parallel ${parallel}, load average ${loadAverage}: ` +
      "starting test hosts and relays",
  );
  await using fleet = await startFleet(count, flags);
  const first = fleet.hosts.hosts[0]!.name;
  const rounds: RoundFigures[] = [];
  const tool: RoundFigures[] = [];
  const hand: ByHandRound[] = [];
  for (let i = 0; i < flags.warmup + flags.rounds; i++) {
    checkInterrupted(run);
    const warm = i < flags.warmup;
    const label = warm ? "warm-up" : `round ${i - flags.warmup + 1}`;
    await nextSystem(fleet.flake);
    const round = await measuredDeploy(
      fleet,
      flags,
      ["--all", "--parallel", String(parallel)],
      run,
    );
    log(roundLine(label, count, round));
    if (!warm) rounds.push(round);
    if (!withOverhead) continue;
    // In turn with the round: a load that drifts hits the tool and by hand alike.
    await nextSystem(fleet.flake);
    const same = await measuredDeploy(fleet, flags, [first, "--no-rollback"], run);
    log(roundLine(`${label}, ${first} --no-rollback`, 1, same));
    await nextSystem(fleet.flake);
    const byHandRound = await byHand(fleet, first, flags, run);
    log(`  ${label}, ${first} by hand: ${byHandRound.wallMs.toFixed(0)} ms`);
    if (!warm) {
      tool.push(same);
      hand.push(byHandRound);
    }
  }
  const point = { ...summarisePoint(count, parallel, rounds), loadAverage };
  return withOverhead ? { point, overhead: summariseOverhead(first, tool, hand) } : { point };
}

/** Reading host facts as deploy does, for 20 and 200 hosts. */
interface FactsFigures {
  hosts: number;
  medianMs: number;
  /** The strict zod check alone. */
  checkMs: number;
}

/**
 * Host facts of `count` hosts read as the deploy reads a repository's own: the real
 * lib/hosts.nix over an index of `count` configurations/<host>/deploy.nix, one `nix eval
 * --json --file` plus the strict zod check.
 */
async function factsBench(count: number, rounds: number): Promise<FactsFigures> {
  const dir = await Deno.makeTempDir({ prefix: "devops-facts-bench-" });
  try {
    await Deno.mkdir(`${dir}/lib`);
    await Deno.copyFile(new URL("../../lib/hosts.nix", import.meta.url), `${dir}/lib/hosts.nix`);
    const names = Array.from({ length: count }, (_, i) => `host${i + 1}`);
    await Deno.mkdir(`${dir}/configurations`);
    await Deno.writeTextFile(
      `${dir}/configurations/nixos-configurations.nix`,
      `{\n${names.map((n) => `  ${n} = ./${n};`).join("\n")}\n}\n`,
    );
    for (const [i, name] of names.entries()) {
      await Deno.mkdir(`${dir}/configurations/${name}`);
      await Deno.writeTextFile(
        `${dir}/configurations/${name}/deploy.nix`,
        `{ deployable = true; address = "192.0.2.${i % 250 + 1}"; tags = [ "t${i % 5}" ]; ` +
          `healthChecks = [ "true" ]; system = "x86_64-linux"; }\n`,
      );
    }
    const runner = createRunner({ write: () => {} });
    const source = { kind: "file" as const, path: `${dir}/lib/hosts.nix` };
    await readFleetFacts(runner, source);
    const raw: unknown = JSON.parse(
      await runner.text({ argv: ["nix", "eval", "--json", "--file", source.path] }),
    );
    const times: number[] = [];
    const checks: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const started = performance.now();
      await readFleetFacts(runner, source);
      times.push(performance.now() - started);
      const checkStart = performance.now();
      parseFleetFacts(raw);
      checks.push(performance.now() - checkStart);
    }
    return { hosts: count, medianMs: median(times), checkMs: median(checks) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function formatFacts(facts: readonly FactsFigures[]): string {
  return [
    "host facts from lib/hosts.nix (nix eval --file + the strict check; target < 1000 ms for 20):",
    ...facts.map((f) =>
      `  ${String(f.hosts).padStart(4)} hosts  ${f.medianMs.toFixed(0).padStart(5)} ms  ` +
      `(strict check alone ${f.checkMs.toFixed(2)} ms)`
    ),
  ].join("\n");
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
  let overhead: OverheadFigures | undefined;
  const facts: FactsFigures[] = [];
  try {
    for (const count of [20, 200]) {
      checkInterrupted(run);
      facts.push(await factsBench(count, flags.rounds));
    }
    for (const [i, count] of flags.points.entries()) {
      const measured = await measurePoint(count, flags, run, flags.overhead && i === 0);
      points.push(measured.point);
      overhead ??= measured.overhead;
    }
  } catch (error) {
    if (error instanceof Interrupted) return 130;
    console.error(`error: ${(error as Error).message}`);
    return 1;
  } finally {
    for (const s of signals) Deno.removeSignalListener(s, interrupt);
  }
  if (flags.json) {
    console.log(JSON.stringify(
      {
        delayMs: flags.delayMs,
        confirmTimeout: flags.confirmTimeout,
        points,
        ...(overhead ? { overhead } : {}),
        facts,
        targets: checkTargets(points, overhead),
      },
      null,
      2,
    ));
  } else {
    console.log(formatScale(points, flags, overhead));
    console.log("");
    console.log(formatFacts(facts));
  }
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
