import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import {
  childPids,
  environHas,
  killMarked,
  machineTicks,
  MARKER_VARIABLE,
  parseProcStat,
  pidsWithCommandLine,
  startCpuSampler,
  treeCpuMs,
  waitChildrenReaped,
} from "./process_tree.ts";

Deno.test("parseProcStat() reads pid, parent, times and start of a name with spaces and )", () => {
  const fields = Array.from({ length: 50 }, (_, i) => String(i + 3));
  fields[4 - 3] = "77"; // ppid
  fields[14 - 3] = "120"; // utime
  fields[15 - 3] = "30"; // stime
  fields[16 - 3] = "5"; // cutime
  fields[17 - 3] = "6"; // cstime
  fields[22 - 3] = "9999"; // starttime
  fields[0] = "S";
  assertEquals(parseProcStat(`4242 (ssh (mux) x) ${fields.join(" ")}\n`), {
    pid: 4242,
    comm: "ssh (mux) x",
    ppid: 77,
    utime: 120,
    stime: 30,
    cutime: 5,
    cstime: 6,
    starttime: 9999,
  });
  assertThrows(() => parseProcStat("garbage"), "Cannot parse /proc stat line");
});

Deno.test("environHas() matches a whole NAME=value entry only", () => {
  const environ = `PATH=/bin\0${MARKER_VARIABLE}=abc\0OTHER=${MARKER_VARIABLE}=xyz\0`;
  assert(environHas(environ, MARKER_VARIABLE, "abc"));
  assert(!environHas(environ, MARKER_VARIABLE, "ab"));
  assert(!environHas(environ, MARKER_VARIABLE, "xyz"));
});

async function waitForFile(path: string): Promise<void> {
  const deadline = performance.now() + 30_000;
  while (!(await Deno.stat(path).then(() => true, () => false))) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${path}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("startCpuSampler() counts a marked daemon's CPU that no marked parent collects", async () => {
  const dir = await Deno.makeTempDir({ prefix: "devops-cpu-" });
  const marker = crypto.randomUUID();
  const sampler = startCpuSampler(marker, 20);
  try {
    // The shell starts a busy child and exits at once: the child is orphaned, like ssh -M -f.
    const busy = `i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done; : > ${dir}/done; sleep 1`;
    const child = new Deno.Command("sh", {
      args: ["-c", `setsid sh -c '${busy}' >/dev/null 2>&1 & exit 0`],
      env: { [MARKER_VARIABLE]: marker },
      stdout: "null",
      stderr: "null",
    }).spawn();
    await child.status;
    await waitForFile(`${dir}/done`);
    const orphanMs = await sampler.stop(child.pid);
    assert(orphanMs > 0, `the orphan's CPU was not counted (${orphanMs} ms)`);
    assert(sampler.seen.length >= 1, "the marked daemon was seen");
    assert((sampler.byProgram().sh ?? 0) > 0, JSON.stringify(sampler.byProgram()));
  } finally {
    await sampler.stop(0);
    await killMarked(marker);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("killMarked() ends the marked processes, also detached ones, and no others", async () => {
  const marker = crypto.randomUUID();
  const spawnSleep = (env: Record<string, string>) =>
    new Deno.Command("setsid", {
      args: ["sleep", "60"],
      env,
      stdout: "null",
      stderr: "null",
    }).spawn();
  const marked = spawnSleep({ [MARKER_VARIABLE]: marker });
  const other = spawnSleep({ [MARKER_VARIABLE]: "someone-else" });
  try {
    // Wait until the marked sleep's environment is readable (it has exec'd).
    const deadline = performance.now() + 10_000;
    let killed: number[] = [];
    while (killed.length === 0 && performance.now() < deadline) killed = await killMarked(marker);
    assertEquals(killed, [marked.pid]);
    assertEquals((await marked.status).signal, "SIGKILL");
    assert(Deno.readTextFileSync(`/proc/${other.pid}/stat`).length > 0, "the other one lives");
  } finally {
    other.kill("SIGKILL");
    await other.status;
    await marked.status;
  }
});

Deno.test("killMarked() with a grace period lets a process clean up on SIGTERM", async () => {
  const dir = await Deno.makeTempDir({ prefix: "devops-term-" });
  const marker = crypto.randomUUID();
  const script = `trap ': > ${dir}/cleaned; exit 0' TERM; : > ${dir}/ready; ` +
    "while :; do sleep 0.05; done";
  const child = new Deno.Command("sh", {
    args: ["-c", script],
    env: { [MARKER_VARIABLE]: marker },
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitForFile(`${dir}/ready`);
    const signalled = await killMarked(marker, 5000);
    assert(signalled.includes(child.pid), `${child.pid} not in ${signalled}`);
    assertEquals((await child.status).code, 0);
    assert(await Deno.stat(`${dir}/cleaned`).then(() => true, () => false), "no clean-up");
  } finally {
    await killMarked(marker);
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("treeCpuMs(), pidsWithCommandLine() and machineTicks() read this machine's /proc", async () => {
  assert((await treeCpuMs(Deno.pid))! >= 0);
  assertEquals(await treeCpuMs(2 ** 22 + 1), undefined);
  // A unique argument: a duration no other process on this machine is likely to sleep.
  const seconds = `30.${crypto.getRandomValues(new Uint32Array(1))[0]}`;
  const child = new Deno.Command("sleep", { args: [seconds], stdout: "null" }).spawn();
  try {
    const deadline = performance.now() + 10_000;
    let found: number[] = [];
    while (found.length === 0 && performance.now() < deadline) {
      found = await pidsWithCommandLine(["sleep", seconds]);
    }
    assertEquals(found, [child.pid]);
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
  const ticks = await machineTicks();
  assert(ticks.total > 0 && ticks.busy >= 0 && ticks.busy <= ticks.total);
});

Deno.test("childPids() finds a process's children; waitChildrenReaped() waits for them, bounded", async () => {
  // A shell whose two children live until their stdin closes (here: when the test says so).
  const parent = new Deno.Command("sh", {
    // Background jobs get /dev/null as stdin unless told: fd 3 is the shell's stdin.
    args: ["-c", "exec 3<&0; cat <&3 >/dev/null & cat <&3 >/dev/null & wait"],
    stdin: "piped",
  }).spawn();
  try {
    const deadline = performance.now() + 10_000;
    while ((await childPids([parent.pid])).length < 2) {
      assert(performance.now() < deadline, "the shell's two children never showed");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assertEquals(await waitChildrenReaped([parent.pid], 100), false);
    await parent.stdin.close();
    assertEquals(await waitChildrenReaped([parent.pid], 10_000), true);
    assertEquals(await childPids([parent.pid]), []);
  } finally {
    try {
      parent.kill("SIGKILL");
    } catch {
      // Ended already.
    }
    await parent.status;
  }
});
