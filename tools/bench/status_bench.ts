// How `deno task status` scales: `deno task bench:status [--runs N] [--hosts N]`. Starts N sshd
// test hosts (default 32), each behind a TCP relay that delays each direction by 25 ms (a
// network's round trip of 50 ms), deploys them once with `deno task deploy`, then times `deno
// task status` of 1, 4, 16 and 32 of them (the median of N runs, default 3) and counts, at the
// relays, the connections and the request/response turns per host. Round trips beyond the
// connection: the median of the status runs' turns per host (over every connection of every
// point) minus the median of the baseline's (`ssh … 'echo a; sleep 0.5; echo b'`, same options:
// the connection and one command that answers in parts) plus one; turns at the relay vary by
// one or two run to run. Targets (issue 26): the 32-host time ≤ 1.5 × one host's, ≤ 1 round
// trip per host beyond the connection; PASS or MISS printed. Root (test hosts).
import { knownHostsText, type SshContext } from "../lib/fleet/mod.ts";
import { planStatus } from "../lib/status/mod.ts";
import { parseFleetFacts } from "../lib/fleet/mod.ts";
import { createFixtureFlake } from "../testing/fixture_flake.ts";
import { runProgram } from "../testing/run.ts";
import { createProgramsBin, installToolkit, runTask } from "../testing/task.ts";
import { startTcpRelay, type TcpRelay } from "../testing/tcp_relay.ts";
import { startTestHosts } from "../testing/test_hosts.ts";
import { benchArgsOrExit } from "./bench_args.ts";
import { machineTicks, pidsWithCommandLine, treeCpuMs } from "./process_tree.ts";
import { median } from "./timing.ts";

const DELAY_MS = 25;
const POINTS = [1, 4, 16, 32];
const RATIO_TARGET = 1.5;
const TRIPS_TARGET = 1;
/** GNU time: the status process tree's CPU. */
const TIME = "/usr/bin/time";

/** CPU milliseconds so far of the hosts' sshd listeners and the sessions they waited for. */
async function hostsCpuMs(listeners: readonly number[]): Promise<number> {
  let total = 0;
  for (const pid of listeners) total += await treeCpuMs(pid) ?? 0;
  return total;
}

/** Turns the relays of `names` saw on connections accepted after `before`, per host. */
function turnsSince(relays: Map<string, TcpRelay>, names: string[], before: Map<string, number>) {
  return names.map((name) => {
    const relay = relays.get(name)!;
    const fresh = relay.connections.slice(before.get(name) ?? 0);
    return { connections: fresh.length, turns: fresh.reduce((sum, c) => sum + c.turns, 0) };
  });
}

function mark(relays: Map<string, TcpRelay>): Map<string, number> {
  return new Map([...relays].map(([name, relay]) => [name, relay.accepted]));
}

/** Waits until every connection the relays hold has closed (its turns are all counted). */
async function settled(relays: Map<string, TcpRelay>): Promise<void> {
  for (let i = 0; i < 200 && [...relays.values()].some((r) => r.open > 0); i++) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function main(args: string[]): Promise<number> {
  const { runs, hosts: hostCount } = benchArgsOrExit(args, {
    task: "bench:status",
    summary: "Times deno task status of 1, 4, 16 and 32 test hosts behind 25 ms relays and " +
      "counts its round trips per host (root).",
    defaultRuns: 3,
    defaultHosts: 32,
  });
  const count = hostCount ?? 32;
  const loadBefore = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
  const points = POINTS.filter((p) => p <= count);
  await using hosts = await startTestHosts(count, {
    names: Array.from({ length: count }, (_, i) => `st${i + 1}`),
  });
  await using stack = new AsyncDisposableStack();
  const relays = new Map<string, TcpRelay>();
  for (const host of hosts.hosts) {
    relays.set(
      host.name,
      stack.use(startTcpRelay({ target: { hostname: host.address, port: 22 }, delayMs: DELAY_MS })),
    );
  }
  const facts = (name: string) => ({
    address: relays.get(name)!.hostname,
    port: relays.get(name)!.port,
    confirmTimeout: 30,
  });
  await using flake = await createFixtureFlake(hosts.hosts.map((h) => ({
    name: h.name,
    hostPublicKey: h.hostPublicKey,
    facts: facts(h.name),
  })));
  await installToolkit(flake.dir);
  await using bin = await createProgramsBin();
  const client = [
    "--ssh-option",
    `IdentityFile=${hosts.clientKey}`,
    "--ssh-option",
    "IdentitiesOnly=yes",
    "--ssh-option",
    "IdentityAgent=none",
  ];
  console.error(`deploying ${count} hosts through their relays…`);
  // On a busy machine a host's step can run over its bound; deploy again (it is idempotent).
  for (let attempt = 1;; attempt++) {
    const deployed = await runTask(flake.dir, "deploy", ["--all", "--no-check-sigs", ...client], {
      bin,
    });
    if (deployed.code === 0) break;
    if (attempt === 3) throw new Error(`deploy failed: ${deployed.stderr}`);
    console.error(`deploy failed (attempt ${attempt}), again…`);
  }

  const listeners: number[] = [];
  for (const host of hosts.hosts) {
    const [pid] = await pidsWithCommandLine([`${host.dir}/sshd_config`, "[listener]"]);
    if (pid === undefined) throw new Error(`Cannot find the sshd of test host "${host.name}"`);
    listeners.push(pid);
  }
  // The baseline: one ssh command with status's own options (the connection and one command).
  const dir = await Deno.makeTempDir({ prefix: "status-bench-" });
  stack.defer(() => Deno.remove(dir, { recursive: true }));
  await Deno.writeTextFile(
    `${dir}/known_hosts`,
    knownHostsText(hosts.hosts.map((h) => ({ host: h.name, key: h.hostPublicKey }))),
  );
  const ssh: SshContext = {
    knownHostsFile: `${dir}/known_hosts`,
    extraOptions: [`IdentityFile=${hosts.clientKey}`, "IdentitiesOnly=yes", "IdentityAgent=none"],
    connectTimeout: 30,
  };
  const fleetFacts = parseFleetFacts(Object.fromEntries(hosts.hosts.map((h) => [h.name, {
    deployable: true,
    system: "x86_64-linux",
    ...facts(h.name),
  }])));
  const first = hosts.hosts[0]!.name;
  const plan = planStatus(fleetFacts, { names: [first], all: false, tags: [] }, {
    ssh,
    timeoutSeconds: 60,
  });
  // One command that, like the status script, answers in parts while it runs: with `true` the
  // whole answer comes in the exec's reply, and the client's own packets (its stdin's EOF) that
  // status's answer waits on no one for still flip the relay's count.
  const baseArgv = [...plan.hosts[0]!.argv.slice(0, -1), "echo a; sleep 0.5; echo b"];
  // Turns at the relay vary by one or two run to run (how the client's packets meet the
  // server's): the baseline is the median of several.
  const baseSamples: number[] = [];
  let before = mark(relays);
  const baseCpu: number[] = [];
  for (let i = 0; i < 15; i++) {
    before = mark(relays);
    const cpuBefore = await hostsCpuMs(listeners);
    const base = await runProgram(baseArgv);
    if (base.code !== 0) throw new Error(`the baseline ssh failed: ${base.stderr}`);
    await settled(relays);
    baseCpu.push(await hostsCpuMs(listeners) - cpuBefore);
    baseSamples.push(turnsSince(relays, [first], before)[0]!.turns);
  }
  const baseTurns = median(baseSamples);
  const rows: string[] = [];
  const medians = new Map<number, number>();
  const allTurns: number[] = [];
  for (const n of points) {
    const names = hosts.hosts.slice(0, n).map((h) => h.name);
    const times: number[] = [];
    const clientCpu: number[] = [];
    const hostCpu: number[] = [];
    const busy: number[] = [];
    const perHost: { connections: number; turns: number }[] = [];
    // One warm-up run (deno's and nix's caches), then the timed ones.
    for (let run = 0; run <= runs; run++) {
      before = mark(relays);
      const hostsBefore = await hostsCpuMs(listeners);
      const machineBefore = await machineTicks();
      const started = performance.now();
      const out = await new Deno.Command(TIME, {
        args: [
          "-f",
          "%U %S",
          "-o",
          `${dir}/time`,
          `${bin.dir}/deno`,
          "task",
          "-q",
          "status",
          ...client,
          "--timeout",
          "60",
          ...names,
        ],
        cwd: flake.dir,
        env: { PATH: bin.dir, NO_COLOR: "1" },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const elapsed = performance.now() - started;
      if (out.code !== 0) {
        throw new Error(
          `status of ${n} hosts exited ${out.code}: ${new TextDecoder().decode(out.stdout)}`,
        );
      }
      await settled(relays);
      const machineAfter = await machineTicks();
      if (run === 0) continue;
      times.push(elapsed);
      const [user, sys] = (await Deno.readTextFile(`${dir}/time`)).trim().split(" ").map(Number);
      clientCpu.push(((user ?? 0) + (sys ?? 0)) * 1000);
      hostCpu.push((await hostsCpuMs(listeners) - hostsBefore) / n);
      busy.push(
        (machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total),
      );
      perHost.push(...turnsSince(relays, names, before));
    }
    const ms = median(times);
    medians.set(n, ms);
    const connections = Math.max(...perHost.map((p) => p.connections));
    const turns = perHost.map((p) => p.turns);
    const trips = median(turns) - baseTurns + 1;
    allTurns.push(...turns);
    rows.push(
      `${String(n).padStart(3)} hosts  median ${ms.toFixed(0).padStart(6)} ms  (${
        times.map((t) => t.toFixed(0)).join(", ")
      })  connections/host ${connections}  turns/host median ${median(turns)} (${
        Math.min(...turns)
      }–${Math.max(...turns)})  round trips/host beyond the connection ${trips}`,
      `           CPU: status ${median(clientCpu).toFixed(0)} ms, each host (sshd and script) ${
        median(hostCpu).toFixed(0)
      } ms; machine busy ${(median(busy) * 100).toFixed(0)}% (every process on it)`,
    );
  }
  console.log(
    `deno task status through relays of ${DELAY_MS} ms each way, ${runs} runs each ` +
      `(the hosts share this machine's ${navigator.hardwareConcurrency} CPUs; load average before it started: ${loadBefore}):`,
  );
  for (const row of rows) console.log(row);
  console.log(
    `baseline ssh … 'echo a; sleep 0.5; echo b': median ${baseTurns} turns (${
      baseSamples.join(", ")
    }): the connection and one command; the host's CPU for it ${median(baseCpu).toFixed(0)} ms`,
  );
  const largest = points.at(-1)!;
  const ratio = medians.get(largest)! / medians.get(1)!;
  console.log(
    `${largest} hosts / 1 host: ${ratio.toFixed(2)}× (target ≤ ${RATIO_TARGET}×): ${
      ratio <= RATIO_TARGET ? "PASS" : "MISS"
    }`,
  );
  // Over every status connection of every point: a point's few samples vary by one.
  const trips = median(allTurns) - baseTurns + 1;
  console.log(
    `round trips per host beyond the connection (median of ${allTurns.length} connections): ${trips} (target ≤ ${TRIPS_TARGET}): ${
      trips <= TRIPS_TARGET ? "PASS" : "MISS"
    }`,
  );
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
