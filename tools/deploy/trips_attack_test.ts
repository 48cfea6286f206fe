// Attacks on the round-trip cut (issue 14): health checks on the host's shared connection,
// bounded on the target, and the built-in check inside the activation's session. Real sshd
// test hosts; the target scripts run over real SSH, deploys as `deno task deploy`.
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { startTestHosts, type TestHost } from "../testing/test_hosts.ts";
import {
  fleet,
  generation,
  hostProcessesWith,
  hostReport,
  scriptPlan,
  supervisorStates,
  waitFor,
} from "./_test_fleet.ts";
import { activateCommand, controlCommand, healthCheckCommand, newRunId } from "./commands.ts";
import { createRunner } from "../lib/runner.ts";
import { exitMasters } from "./main.ts";
import {
  HEALTH_CHECK_OUTPUT_TAIL,
  LAST_DEPLOY_RECORD,
  parseKeyValues,
  parseRemoteState,
} from "../lib/fleet/mod.ts";

/** Kills the host's processes whose command line has `text` (what a test left running). */
async function killOnHost(host: TestHost, text: string): Promise<void> {
  for (const pid of await hostProcessesWith(host, text)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // gone
    }
  }
}

Deno.test("deploy: a health check that starts a daemon holding its output passes at once (the session does not wait for the daemon)", async () => {
  await using f = await fleet(1, () => ({ facts: { confirmTimeout: 30 } }));
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  await f.flake.update({
    web1: {
      toplevel: { marker: "2" },
      facts: { healthChecks: ["sleep 611 & echo started"], healthCheckTimeout: 2 },
    },
  });
  try {
    const run = await f.task("web1");
    // Before: the daemon held the session's output, the step ran into the deployer's bound
    // and a healthy host rolled back ("timed out after 2 s").
    assertEquals(run.code, 0, run.stderr);
    assertEquals(hostReport(run.report, "web1").status, "confirmed");
  } finally {
    await killOnHost(web1!, "sleep 611");
  }
});

/** A folder on the host with the programs the scripts need but `timeout`. */
async function pathWithoutTimeout(host: TestHost): Promise<string> {
  const path = "/nix/var/no-timeout";
  const dir = host.hostPath(path);
  await Deno.mkdir(dir, { recursive: true });
  for (const program of ["sh", "sleep", "date", "mktemp", "tail", "rm", "setsid", "head"]) {
    const target = await Deno.realPath(`/usr/bin/${program}`)
      .catch(() => Deno.realPath(`/bin/${program}`));
    await Deno.symlink(target, `${dir}/${program}`);
  }
  return path;
}

Deno.test("a health check that hangs where the target has no `timeout` ends at its bound with all it started", async () => {
  await using hosts = await startTestHosts(1);
  const [host] = hosts.hosts;
  const path = await pathWithoutTimeout(host!);
  const plan = scriptPlan(host!, { healthCheckTimeout: 1 });
  try {
    // The shell forks the sleep (a command follows it): killing the shell alone left the sleep
    // holding the session's output, so the session outlived the bound by the sleep's 600 s.
    const out = await host!.ssh(
      `PATH=${path}; export PATH; ${healthCheckCommand(plan, "sleep 612; true")}`,
      { okCodes: [124], timeoutMs: 30_000 },
    );
    assertEquals(out.code, 124);
    await waitFor(
      "the check's sleep to end",
      async () => (await hostProcessesWith(host!, "sleep 612")).length === 0,
      10,
    );
    const failed = await host!.ssh(
      `PATH=${path}; export PATH; ${healthCheckCommand(plan, "echo bad >&2; exit 3")}`,
      { okCodes: [3], timeoutMs: 30_000 },
    );
    assertEquals([failed.code, failed.stderr.trim()], [3, "bad"]);
  } finally {
    await killOnHost(host!, "sleep 612");
  }
});

Deno.test("a health check's output is bounded: only its tail reaches the deployer, a flood ends the check", async () => {
  await using hosts = await startTestHosts(1);
  const [host] = hosts.hosts;
  const plan = scriptPlan(host!, { healthCheckTimeout: 30 });
  const some = await host!.ssh(
    healthCheckCommand(plan, "seq 1 100000; echo done >&2"),
    { timeoutMs: 30_000 },
  );
  assertEquals(some.stdout.length, HEALTH_CHECK_OUTPUT_TAIL);
  assert(some.stdout.endsWith("99999\n100000\n"), some.stdout.slice(-20));
  assertEquals(some.stderr, "done\n");
  // A check runs as typed: quotes, command substitution, `;`.
  const typed = await host!.ssh(
    healthCheckCommand(plan, `[ "$(printf '%s' "a'b;c")" = "a'b;c" ] && echo quoted`),
  );
  assertEquals(typed.stdout, "quoted\n");
  // No writable temp dir where TMPDIR says, or no mktemp at all: the check still runs.
  const noTmp = await host!.ssh(
    `TMPDIR=/nonexistent; export TMPDIR; ${healthCheckCommand(plan, "echo fine")}`,
  );
  assertEquals(noTmp.stdout, "fine\n");
  const path = await pathWithoutTimeout(host!);
  await Deno.remove(host!.hostPath(`${path}/mktemp`));
  const noMktemp = await host!.ssh(
    `PATH=${path}; export PATH; ${healthCheckCommand(plan, "echo fine; exit 4")}`,
    { okCodes: [4] },
  );
  assertEquals([noMktemp.code, noMktemp.stdout], [4, "fine\n"]);
  // Before: every byte of it went to the deployer's memory, for as long as the bound allowed.
  const flood = await host!.ssh(healthCheckCommand(plan, "cat /dev/zero"), {
    okCodes: [153],
    timeoutMs: 30_000,
  });
  assertEquals(flood.code, 153);
  assertEquals(flood.stdout.length, HEALTH_CHECK_OUTPUT_TAIL);
  assertStringIncludes(flood.stderr, "printed more than its output bound");
});

/**
 * A system on the host outside the store (mode `test` sets no profile): its activation points
 * /run/current-system at it; its systemctl hangs in `list-units` (the built-in check).
 */
async function systemWithHangingCheck(host: TestHost): Promise<string> {
  const path = "/nix/var/hanging-check-system";
  const dir = host.hostPath(path);
  await Deno.mkdir(`${dir}/bin`, { recursive: true });
  await Deno.mkdir(`${dir}/sw/bin`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/bin/switch-to-configuration`,
    `#!/bin/sh\nln -sfn ${path} /run/current-system\n`,
    { mode: 0o755 },
  );
  await Deno.writeTextFile(
    `${dir}/sw/bin/systemctl`,
    '#!/bin/sh\ncase "$1" in list-units) exec sleep 613 ;; esac\n',
    { mode: 0o755 },
  );
  return path;
}

Deno.test("a supervisor killed during its built-in check is told at once, not after the launcher's bound, and not as a host that rolls back by itself", async () => {
  await using hosts = await startTestHosts(1);
  const [host] = hosts.hosts;
  const system = await systemWithHangingCheck(host!);
  const run = newRunId();
  const plan = scriptPlan(host!, { healthCheckTimeout: 60, confirmTimeout: 30 });
  try {
    const launched = host!.ssh(activateCommand(plan, { run, by: "test" }, system), {
      // The launcher's own bound is 30 + 60 + 30 + 30 s: before, it waited all of it.
      timeoutMs: 60_000,
    });
    const supervisor = await waitFor("the supervisor in its check", async () => {
      if ((await hostProcessesWith(host!, "sleep 613")).length === 0) return undefined;
      const info = await Deno.readTextFile(host!.hostPath(`/run/devops-deploy/${run}/info`));
      const pid = parseKeyValues(info).pid;
      return pid === undefined ? undefined : Number(pid);
    }, 30);
    Deno.kill(supervisor, "SIGKILL");
    const state = parseRemoteState((await launched).stdout);
    assertEquals([state.status, state.supervisorLost], ["activating", true]);
    // A status read (the deployer's recovery, a confirmation) says so too.
    const read = await host!.ssh(controlCommand(plan, run, "confirm", 20), { timeoutMs: 60_000 });
    assertEquals(parseRemoteState(read.stdout).supervisorLost, true);
  } finally {
    await killOnHost(host!, "sleep 613");
  }
});

Deno.test("deploy: killed (SIGKILL) during an activation whose built-in check fails, re-run: the adopted run's check result is used, the host rolls back", async () => {
  await using f = await fleet(1, () => ({ facts: { confirmTimeout: 30 } }));
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  // Killed while activating, the deployer can neither see the check's result nor abort.
  await f.flake.update({
    web1: { toplevel: { marker: "2", failUnits: ["new.service"], activationSeconds: 3 } },
  });
  const killed = f.spawn("web1");
  const pid = await killed.deployerPid();
  await waitFor(
    "the activating state",
    async () => Object.values(await supervisorStates(web1!)).includes("activating"),
  );
  Deno.kill(pid, "SIGKILL");
  await killed.done;
  const rerun = await f.task("web1");
  assertEquals(rerun.code, 1, rerun.stderr);
  const report = hostReport(rerun.report, "web1");
  assert(report.adoptedRun !== undefined, "the killed run's supervisor was adopted");
  assertEquals([report.status, report.failedStep, report.error], [
    "rolled-back-health-check",
    "health",
    "Built-in check failed: units failed since the activation: new.service",
  ]);
  assertEquals(await generation(web1!), 1);
});

/** A folder on the host linking every program of the machine's bin folders but `timeout`. */
async function everythingButTimeout(host: TestHost): Promise<string> {
  const path = "/nix/var/all-but-timeout";
  const dir = host.hostPath(path);
  await Deno.mkdir(dir, { recursive: true });
  for (const bin of ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]) {
    const entries = await Array.fromAsync(Deno.readDir(bin)).catch(() => []);
    for (const entry of entries) {
      if (entry.name === "timeout") continue;
      await Deno.symlink(`${bin}/${entry.name}`, `${dir}/${entry.name}`).catch(() => {});
    }
  }
  return path;
}

/**
 * The activation's state says the built-in check timed out at its 1 s bound, and no hanging
 * `systemctl` (a `sleep 613`) is left on the host.
 */
async function assertCheckTimedOutAndEnded(host: TestHost, stdout: string): Promise<void> {
  const state = parseRemoteState(stdout);
  assertEquals([state.status, state.unitsCheck], ["activated", {
    passed: false,
    detail: "timed out after 1 s",
  }]);
  await waitFor(
    "the hanging systemctl calls to end",
    async () => (await hostProcessesWith(host, "sleep 613")).length === 0,
    10,
  );
}

Deno.test("the supervisor's built-in check without `timeout` on the target: a hanging systemctl ends at the bound with the check", async () => {
  await using hosts = await startTestHosts(1);
  const [host] = hosts.hosts;
  const system = await systemWithHangingCheck(host!);
  const path = await everythingButTimeout(host!);
  const run = newRunId();
  try {
    const out = await host!.ssh(
      `PATH=${path}; export PATH; ${
        activateCommand(scriptPlan(host!, {}), { run, by: "test" }, system)
      }`,
      { timeoutMs: 60_000 },
    );
    // Before: only the check's shell was killed; the systemctl it waited on ran on.
    await assertCheckTimedOutAndEnded(host!, out.stdout);
  } finally {
    await killOnHost(host!, "sleep 613");
  }
});

Deno.test("a systemctl that hangs before the activation (units failed before) holds the supervisor only to its bound, not the host's lock for good", async () => {
  await using hosts = await startTestHosts(1);
  const [host] = hosts.hosts;
  const system = await systemWithHangingCheck(host!);
  // The running system's systemctl hangs at everything, list-units too.
  const old = host!.hostPath("/nix/var/hanging-old-system/sw/bin");
  await Deno.mkdir(old, { recursive: true });
  await Deno.writeTextFile(`${old}/systemctl`, "#!/bin/sh\nexec sleep 613\n", { mode: 0o755 });
  await host!.ssh("ln -sfn /nix/var/hanging-old-system /run/current-system");
  const run = newRunId();
  try {
    // Before: the supervisor hung at `list-units` with the lock, still `starting` when the
    // launcher gave up (30 + 1 + 2 + 30 s), and every later deploy of the host found it busy.
    const out = await host!.ssh(
      activateCommand(scriptPlan(host!, {}), { run, by: "test" }, system),
      { timeoutMs: 50_000 },
    );
    await assertCheckTimedOutAndEnded(host!, out.stdout);
  } finally {
    await killOnHost(host!, "sleep 613");
  }
});

Deno.test("a built-in check that takes nearly healthCheckTimeout leaves the whole confirm window after it; unconfirmed, the host still rolls back", async () => {
  await using hosts = await startTestHosts(1);
  const [host] = hosts.hosts;
  const path = "/nix/var/slow-check-system";
  const dir = host!.hostPath(path);
  await Deno.mkdir(`${dir}/bin`, { recursive: true });
  await Deno.mkdir(`${dir}/sw/bin`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/bin/switch-to-configuration`,
    `#!/bin/sh\nln -sfn ${path} /run/current-system\n`,
    { mode: 0o755 },
  );
  await Deno.writeTextFile(
    `${dir}/sw/bin/systemctl`,
    '#!/bin/sh\ncase "$1" in list-units) sleep 3 ;; esac\n',
    { mode: 0o755 },
  );
  // The check takes 3 of its 4 s, the window is 2 s: counted from the activation's end, the
  // window would have passed before the deployer heard of the activation.
  const plan = scriptPlan(host!, { healthCheckTimeout: 4, confirmTimeout: 2 });
  const confirmed = newRunId();
  const out = await host!.ssh(activateCommand(plan, { run: confirmed, by: "test" }, path), {
    timeoutMs: 60_000,
  });
  assertEquals(parseRemoteState(out.stdout).unitsCheck, { passed: true });
  const answer = await host!.ssh(controlCommand(plan, confirmed, "confirm", 12), {
    timeoutMs: 60_000,
  });
  assertEquals(parseRemoteState(answer.stdout).status, "confirmed");
  // No confirmation: rolled back once the window after the check has passed.
  const unconfirmed = newRunId();
  await host!.ssh(activateCommand(plan, { run: unconfirmed, by: "test" }, path), {
    timeoutMs: 60_000,
  });
  const record = await waitFor("the unconfirmed run's record", async () => {
    const text = await Deno.readTextFile(host!.hostPath(LAST_DEPLOY_RECORD)).catch(() => "");
    const values = parseKeyValues(text);
    return values.run === unconfirmed ? values : undefined;
  }, 30);
  assertEquals(record.status, "rolled-back-timeout");
});

Deno.test("deploy: a supervisor killed during the activation is reported at once as unknown, not as a host that rolls back by itself", async () => {
  await using f = await fleet(1, () => ({ facts: { confirmTimeout: 30 } }));
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  await f.flake.update({ web1: { toplevel: { marker: "2", activationSeconds: 5 } } });
  const deploy = f.spawn("web1");
  const supervisor = await waitFor("the supervisor's pid", async () => {
    for (const run of Object.keys(await supervisorStates(web1!))) {
      const info = await Deno.readTextFile(web1!.hostPath(`/run/devops-deploy/${run}/info`))
        .catch(() => "");
      const pid = parseKeyValues(info).pid;
      if (pid !== undefined) return Number(pid);
    }
    return undefined;
  });
  Deno.kill(supervisor, "SIGKILL");
  // Before: the launcher waited out its bound (300 + 2 × 60 + 30 + 30 s) and the report said
  // the host would roll back by itself.
  const run = await within(60, deploy.done);
  assertEquals(run.code, 1, run.stderr);
  const report = hostReport(run.report, "web1");
  assertEquals(report.outcome?.kind, "unknown");
  assertStringIncludes(report.error ?? "", "supervisor on the host died");
  assertStringIncludes(report.error ?? "", "does not roll back by itself");
});

/** `promise`, or a rejection after `seconds`. */
async function within<T>(seconds: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not done within ${seconds} s`)), seconds * 1000);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("two deployers cleaning up the same dead deployer's folder: the one that finds it gone goes on", async () => {
  // Seen in a full test run: two deploys at once both found a dead deployer's folder; one
  // removed it while the other listed its sockets, and that deploy failed ("No such file").
  const gone = await Deno.makeTempDir({ prefix: "devops-deploy-" });
  await Deno.remove(gone);
  await exitMasters(gone, createRunner());
});
