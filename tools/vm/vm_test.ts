// `deno task vm` as users run it, against a stand-in VM runner (tools/vm/_test_standin.ts: the
// runner's interface, a real sshd in place of QEMU): a healthy VM, one that never answers, a
// failing health check, a host key mismatch, SIGINT and --keep. Root (sshd, unshare).
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/assert.ts";
import { runProgramOk } from "../testing/run.ts";
import { createProgramsBin, type ProgramsBin, runTask } from "../testing/task.ts";
import type { TempRepo } from "../testing/temp_repo.ts";
import { waitFor } from "../testing/wait.ts";
import { createStandInFleet, type StandInHost } from "./_test_standin.ts";
import type { VmReport } from "./execute.ts";
import { BOOTED_CHECK } from "./plan.ts";

interface Fleet extends AsyncDisposable {
  repo: TempRepo;
  bin: ProgramsBin;
  /** Where the stand-in writes what it was started with. */
  state: string;
  clientKey: string;
  env: Record<string, string>;
  args: string[];
}

async function fleet(hosts: StandInHost[]): Promise<Fleet> {
  const repo = await createStandInFleet(hosts);
  const bin = await createProgramsBin();
  const state = await Deno.makeTempDir({ dir: "/tmp", prefix: "devops-vm-test-" });
  const clientKey = `${state}/client_ed25519`;
  await runProgramOk(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", clientKey]);
  return {
    repo,
    bin,
    state,
    clientKey,
    env: { VM_STANDIN_STATE: state, VM_STANDIN_AUTHORIZED_KEYS: `${clientKey}.pub` },
    args: ["--ssh-option", `IdentityFile=${clientKey}`, "--ssh-option", "IdentitiesOnly=yes"],
    async [Symbol.asyncDispose]() {
      const runner = await standIn(state);
      if (runner?.pid) killGroup(Number(runner.pid));
      await Deno.remove(state, { recursive: true }).catch(() => {});
      await bin[Symbol.asyncDispose]();
      await repo[Symbol.asyncDispose]();
    },
  };
}

function killGroup(pid: number) {
  try {
    Deno.kill(-pid, "SIGKILL");
  } catch {
    // gone
  }
}

/** What the stand-in runner was started with, once it wrote it. */
async function standIn(state: string): Promise<Record<string, string> | undefined> {
  const text = await Deno.readTextFile(`${state}/runner`).catch(() => undefined);
  if (text === undefined) return undefined;
  return Object.fromEntries(
    text.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
}

async function alive(pid: number): Promise<boolean> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => undefined);
  return stat !== undefined && stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

/** Pids whose command line holds `text`. */
async function processesWith(text: string): Promise<number[]> {
  const found: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
    if (cmdline.replaceAll("\0", " ").includes(text)) found.push(Number(entry.name));
  }
  return found;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

async function vm(f: Fleet, host: string, extra: string[] = []) {
  const result = await runTask(f.repo.dir, "vm", [host, "--json", ...f.args, ...extra], {
    bin: f.bin,
    env: f.env,
  });
  const report = result.stdout.trim() === "" ? undefined : JSON.parse(result.stdout) as VmReport;
  return { ...result, report };
}

/** The VM's processes are gone and its run folder (keys, disk image) with them. */
async function assertStopped(f: Fleet) {
  const runner = await standIn(f.state);
  assert(runner !== undefined, "the stand-in runner was started");
  assert(!(await alive(Number(runner.pid))), `the VM process ${runner.pid} still runs`);
  assertEquals(await processesWith(runner.tmpdir!), [], "a process of the VM lives on");
  const run = runner.tmpdir!.replace(/\/tmp$/, "");
  assert(!(await exists(run)), `the run folder ${run} is left behind`);
}

Deno.test("deno task vm: a healthy VM: built, booted with the runner's interface, SSH pinned to a throw-away key, checks pass, powered off", async () => {
  await using f = await fleet([{ name: "web1", healthChecks: ["test -d /"] }]);
  const out = await vm(f, "web1");
  assertEquals(out.code, 0, out.stdout + out.stderr);
  const report = out.report!;
  assertEquals(report.outcome, { kind: "healthy" });
  assertEquals(report.checks, [
    { check: BOOTED_CHECK, passed: true },
    { check: "test -d /", passed: true },
  ]);
  assertEquals(report.stopped, true);
  const runner = (await standIn(f.state))!;
  // The runner's interface: disk image and scratch in the run folder, SSH on 127.0.0.1 only.
  const run = runner.tmpdir!.replace(/\/tmp$/, "");
  assertMatch(run, /^\/tmp\/devops-vm-/);
  assertEquals(runner.disk, `${run}/disk.qcow2`);
  assertEquals(runner.keys, `${run}/keys`);
  // The upstream shared folder is left as the runner makes it.
  assertEquals(runner.shared, `${run}/tmp/xchg`);
  assertEquals(runner.net, `hostfwd=tcp:127.0.0.1:${report.port}-:22`);
  assertEquals(runner.opts, "-nographic");
  assertMatch(report.pinned ?? "", /^SHA256:/);
  // Nothing in the repository: no disk image in the folder the task ran in.
  assertEquals(await f.repo.git("status", "--porcelain"), "");
  await assertStopped(f);
});

Deno.test("deno task vm dev-vm: the repository's example key is the one the VM runs with and the committed .pub is pinned", async () => {
  const keyDir = await Deno.makeTempDir();
  try {
    await runProgramOk(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", `${keyDir}/k`]);
    const privateKey = await Deno.readTextFile(`${keyDir}/k`);
    const publicKey = await Deno.readTextFile(`${keyDir}/k.pub`);
    const fingerprint = (await runProgramOk(["ssh-keygen", "-l", "-f", `${keyDir}/k.pub`]))
      .split(" ")[1];
    await using f = await fleet([{ name: "dev-vm", repositoryKey: { privateKey, publicKey } }]);
    const out = await vm(f, "dev-vm");
    assertEquals(out.code, 0, out.stdout + out.stderr);
    assertEquals(out.report!.pinned, fingerprint);
    await assertStopped(f);
  } finally {
    await Deno.remove(keyDir, { recursive: true });
  }
});

Deno.test("deno task vm: a VM that never answers: the wait is bounded, reported, the VM stopped", async () => {
  await using f = await fleet([{ name: "web1", mode: "silent" }]);
  const out = await vm(f, "web1", ["--timeout", "3", "--connect-timeout", "1"]);
  assertEquals(out.code, 1, out.stdout + out.stderr);
  assertEquals(out.report!.outcome.kind, "failed");
  if (out.report!.outcome.kind === "failed") {
    assertEquals(out.report!.outcome.step, "ssh");
    assertStringIncludes(out.report!.outcome.cause, "did not answer on SSH within 3 s");
  }
  assertEquals(out.report!.stopped, true);
  await assertStopped(f);
});

Deno.test("deno task vm: a VM that ends before SSH answers: its exit code and console's last line", async () => {
  await using f = await fleet([{ name: "web1", mode: "crash" }]);
  const out = await vm(f, "web1");
  assertEquals(out.code, 1, out.stdout + out.stderr);
  const report = out.report!;
  assert(report.outcome.kind === "failed" && report.outcome.step === "boot", out.stdout);
  assertStringIncludes(
    report.outcome.cause,
    `The VM of "web1" stopped before SSH answered (exit 1)`,
  );
  assertStringIncludes(report.outcome.cause, "could not set up host forwarding rule");
  await assertStopped(f);
});

Deno.test("deno task vm: a failing health check is reported by name and the VM powered off", async () => {
  await using f = await fleet([{
    name: "web1",
    healthChecks: ["true", "echo broken >&2; exit 3"],
  }]);
  const out = await vm(f, "web1");
  assertEquals(out.code, 1, out.stdout + out.stderr);
  const report = out.report!;
  assertEquals(report.checks.map((c) => c.passed), [true, true, false]);
  assert(report.outcome.kind === "failed" && report.outcome.step === "health-check");
  assertStringIncludes(report.outcome.cause, 'Health check "echo broken >&2; exit 3" failed');
  assertStringIncludes(report.outcome.cause, "exit 3: broken");
  await assertStopped(f);
});

Deno.test("deno task vm: a VM presenting another host key is refused, nothing runs on it, the VM stopped", async () => {
  await using f = await fleet([{ name: "web1", mode: "other-key", healthChecks: ["touch MARK"] }]);
  // A check that would leave a mark if it ran.
  const mark = `${f.state}/ran`;
  await f.repo.write({
    "fixture.json": (await Deno.readTextFile(f.repo.path("fixture.json"))).replace("MARK", mark),
  });
  await f.repo.git("commit", "-qam", "mark");
  const out = await vm(f, "web1", ["--timeout", "60"]);
  assertEquals(out.code, 1, out.stdout + out.stderr);
  const report = out.report!;
  assert(report.outcome.kind === "failed" && report.outcome.step === "ssh", out.stdout);
  assertStringIncludes(report.outcome.cause, `Host key mismatch for the VM of "web1"`);
  assertStringIncludes(report.outcome.cause, `expected ${report.pinned}`);
  assertEquals(report.checks, []);
  assert(!(await exists(mark)), "a check ran on a host with the wrong key");
  await assertStopped(f);
});

Deno.test("deno task vm: SIGINT during a health check stops the VM and leaves nothing running", async () => {
  // A second interval sleep adds up: a unique number in the check's command line.
  const marker = `600 0.${crypto.getRandomValues(new Uint32Array(1))[0]}`;
  await using f = await fleet([{
    name: "web1",
    healthChecks: [`touch STATE/started; exec sleep ${marker}`],
    healthCheckTimeout: 900,
  }]);
  await f.repo.write({
    "fixture.json": (await Deno.readTextFile(f.repo.path("fixture.json"))).replace(
      "STATE",
      f.state,
    ),
  });
  await f.repo.git("commit", "-qam", "state");
  const child = new Deno.Command(`${f.bin.dir}/deno`, {
    args: ["task", "-q", "vm", "web1", "--json", ...f.args],
    cwd: f.repo.dir,
    env: { ...f.env, PATH: f.bin.dir, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  await waitFor("the health check to start", () => exists(`${f.state}/started`), 120);
  // `touch` runs before the check execs its sleep: wait for the sleep itself.
  await waitFor(
    "the check's process in the VM",
    async () => (await processesWith(`sleep ${marker}`)).length > 0,
  );
  // `deno task` runs the tool as its child: signal the tool, as a terminal's Ctrl-C would.
  const tool = await waitFor("the tool's process", async () => (await childrenOf(child.pid))[0]);
  Deno.kill(tool, "SIGINT");
  const out = await output;
  const stdout = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 130, new TextDecoder().decode(out.stderr));
  const report = JSON.parse(stdout) as VmReport & { interrupted?: string };
  assertEquals([report.interrupted, report.stopped], ["SIGINT", true]);
  await assertStopped(f);
  assertEquals(await processesWith(marker), [], "the check's process outlives the VM");
});

Deno.test("deno task vm --keep: the VM keeps running and the printed command connects to it", async () => {
  await using f = await fleet([{ name: "web1" }]);
  const out = await vm(f, "web1", ["--keep"]);
  assertEquals(out.code, 0, out.stdout + out.stderr);
  const kept = out.report!.kept!;
  assert(kept !== undefined, out.stdout);
  assert(await alive(kept.pid), "the kept VM runs");
  const connect = kept.connect.split("\n")[1]!.trim();
  const answer = await runProgramOk(["sh", "-c", `${connect} echo connected`]);
  assertEquals(answer.trim(), "connected");
  // Stopping it as the printed line says.
  const stop = kept.connect.split("\n")[2]!.replace(/^stop it with: /, "");
  await runProgramOk(["sh", "-c", stop]);
  await waitFor("the kept VM to stop", async () => !(await alive(kept.pid)));
  await assertStopped(f);
});

/** The pids whose parent is `pid`. */
async function childrenOf(pid: number): Promise<number[]> {
  const found: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const status = await Deno.readTextFile(`/proc/${entry.name}/status`).catch(() => "");
    if (new RegExp(`^PPid:\\s+${pid}$`, "m").test(status)) found.push(Number(entry.name));
  }
  return found;
}
