// The deploy benchmark end to end, small: one host, one round; and an interruption mid-deploy.
// Figures are not judged here (no timing assertions), only that the bench runs, counts and cleans up.
import { assert, assertEquals } from "../testing/assert.ts";
import { runProgram } from "../testing/run.ts";
import { CHECKOUT } from "../testing/task.ts";
import { MARKER_VARIABLE, parseProcStat, pidsWithCommandLine } from "./process_tree.ts";

const BENCH = `${CHECKOUT}/tools/bench/deploy_bench.ts`;

/** Pids of processes that carry the benchmark's marker variable, whatever its value. */
async function markedProcesses(): Promise<number[]> {
  const found: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const environ = await Deno.readTextFile(`/proc/${entry.name}/environ`).catch(() => "");
    if (environ.split("\0").some((v) => v.startsWith(`${MARKER_VARIABLE}=`))) {
      found.push(Number(entry.name));
    }
  }
  return found;
}

/** sshd listeners of the benchmark's test hosts (named scale<N>). */
function benchHostListeners(): Promise<number[]> {
  return pidsWithCommandLine(["/hosts/scale1/sshd_config", "[listener]"]);
}

Deno.test("deno task bench:deploy deploys one host through a relay, counts its connections and compares it with the same steps by hand", async () => {
  const result = await runProgram(
    [
      Deno.execPath(),
      "task",
      "-q",
      "bench:deploy",
      "--hosts",
      "1",
      "--rounds",
      "1",
      "--warmup",
      "0",
      "--delay-ms",
      "5",
      "--json",
    ],
    { cwd: CHECKOUT },
  );
  assertEquals(result.code, 0, result.stderr);
  const figures = JSON.parse(result.stdout);
  assertEquals(figures.delayMs, 5);
  const [point] = figures.points;
  assertEquals([point.hosts, point.parallel, point.rolledBack, point.failed], [1, 1, 0, 0]);
  // The confirmation must come over a connection of its own: at least two per host.
  assert(point.connectionsPerHost >= 2, `${point.connectionsPerHost} connections`);
  assert(point.turnsPerHost > 0 && point.cpuPerHostMs > 0, JSON.stringify(point));
  const [round] = point.rounds;
  assert(round.breakdown.medianMs.confirming !== undefined, "a confirming phase was timed");
  assertEquals(round.connections.scale1.at(-1).openedIn, "confirming");
  // The same steps by hand ran through the same relay, in turn with the tool without rollback.
  const { overhead } = figures;
  assertEquals([overhead.host, overhead.tool.length, overhead.byHand.length], ["scale1", 1, 1]);
  assertEquals(Object.keys(overhead.byHand[0].stepsMs), ["build", "copy", "diff+activate+units"]);
  assertEquals(overhead.tool[0].outcomes, { ok: 1, rolledBack: [], failed: [] });
  assert(overhead.tool[0].breakdown.medianMs.confirming === undefined, "no confirmation");
  assert(
    figures.targets.some((t: { target: string }) => t.target.startsWith("overhead ≤ 15%")),
    JSON.stringify(figures.targets),
  );
  assertEquals(await benchHostListeners(), []);
});

/**
 * Runs the benchmark with `args`, sends SIGINT once `ready(benchPid)` holds (polled, bounded),
 * and checks that it exits 130 leaving no marked process and no test host behind.
 */
async function interruptWhen(
  args: string[],
  ready: (benchPid: number) => Promise<boolean>,
  what: string,
): Promise<void> {
  assertEquals(await markedProcesses(), [], "a deploy of another bench run is running");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", BENCH, ...args],
    cwd: CHECKOUT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  try {
    const deadline = performance.now() + 180_000;
    while (!(await ready(child.pid))) {
      assert(performance.now() < deadline, `${what}: not within 180 s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill("SIGINT");
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const out = await output;
    clearTimeout(killer);
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(out.code, 130, stderr);
    assert(stderr.includes("interrupted"), stderr);
    assertEquals(await markedProcesses(), []);
    assertEquals(await benchHostListeners(), []);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Ended already.
    }
    await output;
  }
}

/** The parent pid and program name of `pid`; undefined once it is gone. */
async function parentAndName(pid: number): Promise<{ ppid: number; comm: string } | undefined> {
  const text = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => undefined);
  return text === undefined ? undefined : parseProcStat(text);
}

Deno.test("bench:deploy stops the deploy, the relays and the test hosts on SIGINT", async () => {
  await interruptWhen(
    ["--hosts", "2", "--rounds", "5", "--delay-ms", "5"],
    async () => (await markedProcesses()).length > 0,
    "a deploy started",
  );
});

Deno.test("bench:deploy stops a step by hand on SIGINT", async () => {
  // The bench runs a deploy under GNU time and the steps by hand directly: a marked child of
  // the bench that is not `time` is a step by hand. 50 ms each way keeps each step open longer.
  await interruptWhen(
    ["--hosts", "1", "--rounds", "3", "--warmup", "0", "--delay-ms", "50"],
    async (bench) => {
      for (const pid of await markedProcesses()) {
        const stat = await parentAndName(pid);
        if (stat?.ppid === bench && stat.comm !== "time") return true;
      }
      return false;
    },
    "a step by hand started",
  );
});
