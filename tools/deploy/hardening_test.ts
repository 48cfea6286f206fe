// Regression tests of deploy's hardening (issue 10): hostile facts, pinning per host, the target
// lock, killed and re-run deployers, rollback by generation number, bounded waits, health
// checks that judge the deploy, signals, leftovers and short errors. Real sshd test hosts, real
// nix, `deno task deploy` as a subprocess with deno.json's permissions.
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/assert.ts";
import { FIXTURE_STATE } from "../testing/fixture_flake.ts";
import { createFixtureFlake } from "../testing/fixture_flake.ts";
import { createProgramsBin, installToolkit, runTask } from "../testing/task.ts";
import { createExampleClone } from "../testing/example_clone.ts";
import { startTestHosts, type TestHost } from "../testing/test_hosts.ts";
import {
  activations,
  active,
  dropSessions,
  fleet,
  generation,
  hostProcessesWith,
  hostReport,
  lastDeploy,
  localProcessesWith,
  PROFILE,
  runDirOf,
  supervisorStates,
  waitFor,
} from "./_test_fleet.ts";
import { testHostFlags } from "./_test_flags.ts";

const exists = (path: string) => Deno.lstat(path).then(() => true, () => false);

/** Waits (bounded) until the host has no run state dir and no supervisor process left. */
async function settled(host: TestHost): Promise<void> {
  await waitFor(
    "the supervisor to end",
    async () =>
      Object.keys(await supervisorStates(host)).length === 0 &&
      (await hostProcessesWith(host, "supervise.sh")).length === 0,
    20,
  );
}

Deno.test("deploy: hostile facts (address, user, health check, tag) are refused and never run anything (canary file)", async () => {
  await using f = await fleet(1);
  const [web1] = f.list;
  const canary = `/tmp/devops-deploy-canary-${crypto.randomUUID()}`;
  const touch = `touch\${IFS}${canary}`;
  const hostile: [string, unknown, string][] = [
    ["address", `$(${touch})${web1!.address}`, "address"],
    ["address", `${web1!.address};${touch}`, "address"],
    ["address", `\`${touch}\`${web1!.address}`, "address"],
    ["address", `${web1!.address}?remote-program=${touch}`, "address"],
    ["address", `-oProxyCommand=${touch}`, "address"],
    ["address", "*", "address"],
    ["user", `-oProxyCommand=${touch}`, "user"],
    ["user", `root;${touch}`, "user"],
    ["user", `$(${touch})`, "user"],
    ["healthChecks", [`-oProxyCommand=touch ${canary}`], "healthChecks.0"],
    ["tags", [`$(touch ${canary})`], "tags.0"],
  ];
  for (const [field, value, named] of hostile) {
    await f.flake.update({ web1: { facts: { [field]: value } } });
    const run = await f.task("web1");
    assertEquals(run.code, 1, `${field}=${JSON.stringify(value)}: ${run.stderr}`);
    const line = run.stderr.trim();
    assert(!line.includes("\n"), `one line: ${line}`);
    assertStringIncludes(line, `Invalid deploy facts of host "web1": ${named}:`);
    assert(!(await exists(canary)), `${field}=${JSON.stringify(value)} ran a command`);
    await f.flake.update({
      web1: {
        facts: {
          [field]: field === "tags"
            ? []
            : field === "healthChecks"
            ? []
            : field === "user"
            ? "root"
            : web1!.address,
        },
      },
    });
  }
  const tag = await f.task("--tag", `$(touch ${canary})`);
  assertEquals(tag.code, 2, tag.stderr);
  assert(!(await exists(canary)));
  assertEquals(await generation(web1!), undefined, "no hostile deploy reached the host");
});

Deno.test("deploy: two hosts sharing an address are each checked against their own key", async () => {
  await using hosts = await startTestHosts(2, { names: ["adv1", "advother"] });
  const [real, other] = hosts.hosts;
  await using flake = await createFixtureFlake([
    { name: "adv1", hostPublicKey: real!.hostPublicKey, facts: { address: real!.address } },
    // adv2's folder pins another machine's key, at the address adv1's machine holds.
    { name: "adv2", hostPublicKey: other!.hostPublicKey, facts: { address: real!.address } },
  ]);
  await installToolkit(flake.dir);
  await Deno.writeTextFile(flake.path(".git/info/exclude"), "/deno.json\n/deno.lock\n/tools/\n");
  const adv1 = await flake.buildToplevel("adv1");
  const run = await runTask(flake.dir, "deploy", [
    ...testHostFlags(hosts),
    "--json",
    "adv1",
    "adv2",
  ]);
  assertEquals(run.code, 1, run.stderr);
  const report = JSON.parse(run.stdout);
  assertEquals(hostReport(report, "adv1").status, "confirmed");
  const adv2 = hostReport(report, "adv2");
  assertEquals([adv2.result, adv2.failedStep], ["failed", "connect"]);
  assertStringIncludes(adv2.error ?? "", 'Host key mismatch for "adv2"');
  assertEquals(await active(real!), adv1, "adv1's machine runs adv1's system");
  assertEquals(await generation(real!), 1);
});

Deno.test("deploy: a second deploy of a busy host fails fast naming who holds it; the first is confirmed", async () => {
  await using f = await fleet(1);
  const [web1] = f.list;
  // The first deploy holds the host for its 10 s activation while the second one starts.
  await f.flake.update({ web1: { toplevel: { marker: "2", activationSeconds: 10 } } });
  const first = await f.flake.buildToplevel("web1");
  const running = f.spawn("web1");
  await waitFor(
    "the first activation",
    async () => (await activations(web1!)).includes(`switch ${first}`),
  );
  await f.flake.update({ web1: { toplevel: { marker: "3" } } });
  const second = await f.task("web1");
  assertEquals(second.code, 1, second.stderr);
  const r2 = hostReport(second.report, "web1");
  assertMatch(r2.error ?? "", /^host busy: deploy started at \S+ by \S+@\S+ \(pid \d+\)/);
  assertEquals(r2.outcome?.kind, "busy");
  const firstRun = await running.done;
  assertEquals(firstRun.code, 0, firstRun.stderr);
  assertEquals(hostReport(firstRun.report, "web1").status, "confirmed");
  assertEquals([await generation(web1!), await active(web1!)], [1, first]);
});

Deno.test("deploy: killed (SIGKILL) in the confirm window and re-run at once with the same system: adopted, confirmed, never reverted; leftovers cleaned", async () => {
  await using f = await fleet(1, () => ({ facts: { confirmTimeout: 30 } }));
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  // The first run waits in a long health check while the host waits for its confirmation.
  await f.flake.update({
    web1: {
      toplevel: { marker: "2" },
      facts: { healthChecks: ["sleep 60"], healthCheckTimeout: 120 },
    },
  });
  const next = await f.flake.buildToplevel("web1");
  const killed = f.spawn("web1");
  const pid = await killed.deployerPid();
  await waitFor(
    "the activated state",
    async () => Object.values(await supervisorStates(web1!)).includes("activated"),
  );
  const leftDir = await waitFor("the deployer's temp folder", () => runDirOf(pid));
  Deno.kill(pid, "SIGKILL");
  await killed.done;
  assert(await exists(leftDir), "SIGKILL leaves the temp folder");
  assert((await localProcessesWith(leftDir)).length > 0, "and its shared connection");

  await f.flake.update({ web1: { facts: { healthChecks: [] } } });
  const rerun = await f.task("web1");
  assertEquals(rerun.code, 0, rerun.stderr);
  const report = hostReport(rerun.report, "web1");
  assertEquals([report.status, report.newGeneration], ["confirmed", 2]);
  assert(report.adoptedRun !== undefined, "the killed run's supervisor was adopted");
  assertEquals([await generation(web1!), await active(web1!)], [2, next]);
  // No supervisor is left that could revert the host later.
  await settled(web1!);
  assertEquals((await lastDeploy(web1!)).status, "confirmed");
  // The dead deployer's connection is gone; of its folder only the owner file is left, the
  // proof of its death for a later rerun of another host it may have left waiting.
  assertEquals(
    (await Array.fromAsync(Deno.readDir(leftDir))).map((e) => e.name),
    ["owner"],
    "the next run cleared the dead deployer's temp folder but its owner file",
  );
  // Bounded by the killed run's remote session (its `sleep 60` health check): the shared
  // connection is asked to exit, and on a busy machine it may outlive that session's end only.
  await waitFor(
    "the dead deployer's connection to end",
    async () => (await localProcessesWith(leftDir)).length === 0,
    75,
  );
});

Deno.test("deploy: killed in the confirm window and re-run at once with another system: the old run rolls back first, the re-run's is confirmed", async () => {
  await using f = await fleet(1, () => ({ facts: { confirmTimeout: 30 } }));
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  const good = await f.flake.buildToplevel("web1");
  await f.flake.update({
    web1: {
      toplevel: { marker: "2" },
      facts: { healthChecks: ["sleep 60"], healthCheckTimeout: 120 },
    },
  });
  const killedSystem = await f.flake.buildToplevel("web1");
  const killed = f.spawn("web1");
  const pid = await killed.deployerPid();
  await waitFor(
    "the activated state",
    async () => Object.values(await supervisorStates(web1!)).includes("activated"),
  );
  Deno.kill(pid, "SIGKILL");
  await killed.done;

  await f.flake.update({ web1: { toplevel: { marker: "3" }, facts: { healthChecks: [] } } });
  const fixed = await f.flake.buildToplevel("web1");
  const rerun = await f.task("web1");
  assertEquals(rerun.code, 0, rerun.stderr);
  assertEquals(hostReport(rerun.report, "web1").status, "confirmed");
  assertEquals(await web1!.resolve(PROFILE), fixed);
  assertEquals(await active(web1!), fixed);
  assertEquals((await activations(web1!)).slice(-3), [
    `switch ${killedSystem}`,
    `switch ${good}`,
    `switch ${fixed}`,
  ]);
  await settled(web1!);
});

Deno.test("deploy: killed during a slow activation and re-run at once: ends on the confirmed new generation", async () => {
  await using f = await fleet(1, () => ({ facts: { confirmTimeout: 30 } }));
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  await f.flake.update({ web1: { toplevel: { marker: "2", activationSeconds: 3 } } });
  const next = await f.flake.buildToplevel("web1");
  const killed = f.spawn("web1");
  const pid = await killed.deployerPid();
  await waitFor(
    "the activation",
    async () => (await activations(web1!)).includes(`switch ${next}`),
  );
  Deno.kill(pid, "SIGKILL");
  await killed.done;
  const rerun = await f.task("web1");
  assertEquals(rerun.code, 0, rerun.stderr);
  assertEquals(hostReport(rerun.report, "web1").status, "confirmed");
  assertEquals([await generation(web1!), await active(web1!)], [2, next]);
  await settled(web1!);
});

/**
 * Deploys web1, then a second system whose activation hangs, and kills that run's supervisor
 * and deployer mid-activation (the OOM killer, an operator).
 */
async function killSupervisorMidActivation(
  f: Awaited<ReturnType<typeof fleet>>,
  web1: TestHost,
): Promise<void> {
  assertEquals((await f.task("web1")).code, 0);
  await f.flake.update({ web1: { toplevel: { marker: "2", activationSeconds: 600 } } });
  const hung = await f.flake.buildToplevel("web1");
  const first = f.spawn("web1");
  const pid = await first.deployerPid();
  await waitFor(
    "the activation",
    async () => (await activations(web1)).includes(`switch ${hung}`),
  );
  for (const p of await hostProcessesWith(web1, "supervise.sh")) Deno.kill(p, "SIGKILL");
  Deno.kill(pid, "SIGKILL");
  await first.done;
}

Deno.test("deploy: a supervisor killed mid-activation: the next run stops its activation and restores the profile first", async () => {
  await using f = await fleet(1);
  const [web1] = f.list;
  // The host loses the supervisor and the deployer is killed too.
  await killSupervisorMidActivation(f, web1!);
  assertEquals(await generation(web1!), 2, "the dead run left its generation as the profile");

  await f.flake.update({ web1: { toplevel: { marker: "3", activationSeconds: 0 } } });
  const fixed = await f.flake.buildToplevel("web1");
  const run = await f.task("web1");
  assertEquals(run.code, 0, run.stderr);
  const report = hostReport(run.report, "web1");
  assertEquals([report.status, report.previousGeneration], ["confirmed", 1]);
  assertEquals(
    await hostProcessesWith(web1!, "sleep 600"),
    [],
    "the orphaned activation is stopped",
  );
  assertEquals([await web1!.resolve(PROFILE), await active(web1!)], [fixed, fixed]);
  // The dead run's generation 2 was deleted, so this run's new generation is 2 again.
  assertEquals([report.newGeneration, await generation(web1!)], [2, 2]);
});

Deno.test("deploy: a dead supervisor whose pid now names another process is still found dead", async () => {
  // pid_max may be 32768: a killed supervisor's pid is soon another process's. The state must
  // not look alive for good (the next run would wait on it to the end of its bound).
  await using f = await fleet(1);
  const [web1] = f.list;
  await killSupervisorMidActivation(f, web1!);
  // The dead run's recorded pid now names a live process of the host (its init).
  const base = web1!.hostPath("/run/devops-deploy");
  const runs = [...Deno.readDirSync(base)].filter((e) => e.isDirectory).map((e) => e.name);
  assertEquals(runs.length, 1, runs.join(" "));
  const [init] = await hostProcessesWith(web1!, "sleep infinity");
  assert(init !== undefined, "the host's init");
  await Deno.writeTextFile(`${base}/${runs[0]}/info`, `pid=${init}\n`, { append: true });

  // A short activation bound keeps a wrong wait short (it would be the whole bound).
  await f.flake.update({
    web1: { toplevel: { marker: "3", activationSeconds: 0 }, facts: { activationTimeout: 10 } },
  });
  const fixed = await f.flake.buildToplevel("web1");
  const run = await f.task("web1");
  assertEquals(run.code, 0, run.stderr);
  assertEquals(hostReport(run.report, "web1").status, "confirmed");
  assertEquals(
    await hostProcessesWith(web1!, "sleep 600"),
    [],
    "the orphaned activation is stopped",
  );
  assertEquals([await web1!.resolve(PROFILE), await active(web1!)], [fixed, fixed]);
});

Deno.test("deploy: after an operator's rollback, a failed deploy returns to the recorded generation by number", async () => {
  await using f = await fleet(1);
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  const first = await f.flake.buildToplevel("web1");
  await f.flake.update({ web1: { toplevel: { marker: "2" } } });
  assertEquals((await f.task("web1")).code, 0);
  // The operator goes back to generation 1 by hand (generation 2 stays).
  await web1!.ssh(
    `nix-env -p ${PROFILE} --switch-generation 1 && ${PROFILE}/bin/switch-to-configuration switch`,
  );
  await f.flake.update({ web1: { toplevel: { marker: "3", failActivation: true } } });
  const run = await f.task("web1");
  assertEquals(run.code, 1);
  const report = hostReport(run.report, "web1");
  assertEquals([report.status, report.previousGeneration, report.activeGeneration], [
    "rolled-back-activation",
    1,
    1,
  ]);
  assertEquals([await generation(web1!), await active(web1!)], [1, first]);
});

Deno.test("deploy: a hung activation is killed at activationTimeout and rolled back", async () => {
  await using f = await fleet(1);
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  const good = await f.flake.buildToplevel("web1");
  await f.flake.update({
    web1: {
      toplevel: { marker: "2", activationSeconds: 600 },
      // The hard deadline counts the built-in check's bound too (healthCheckTimeout).
      facts: { activationTimeout: 2, healthCheckTimeout: 1 },
    },
  });
  const run = await f.task("web1");
  assertEquals(run.code, 1, run.stderr);
  const report = hostReport(run.report, "web1");
  assertEquals([report.status, report.failedStep, report.rolledBack], [
    "rolled-back-activation-timeout",
    "activate",
    true,
  ]);
  assertStringIncludes(report.error ?? "", "2 s timeout");
  assertEquals([await generation(web1!), await active(web1!)], [1, good]);
  assertEquals(await hostProcessesWith(web1!, "sleep 600"), [], "the activation was killed");
});

Deno.test("deploy: a hung activation whose session drops: recovery ends with the host's rollback", async () => {
  await using f = await fleet(1);
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  await f.flake.update({
    web1: { toplevel: { marker: "2", activationSeconds: 600 }, facts: { activationTimeout: 4 } },
  });
  const hung = await f.flake.buildToplevel("web1");
  const running = f.spawn("web1");
  await waitFor(
    "the activation",
    async () => (await activations(web1!)).includes(`switch ${hung}`),
  );
  await dropSessions(web1!);
  const run = await running.done;
  assertEquals(run.code, 1, run.stderr);
  assertEquals(hostReport(run.report, "web1").status, "rolled-back-activation-timeout");
  assertEquals(await generation(web1!), 1);
});

Deno.test("deploy: a host that keeps saying 'activating' is given up at a hard deadline and reported unknown", async () => {
  await using f = await fleet(1);
  const [web1] = f.list;
  assertEquals((await f.inProcess(["web1"])).code, 0);
  await f.flake.update({
    web1: {
      toplevel: { marker: "2", activationSeconds: 600 },
      // The hard deadline counts the built-in check's bound too (healthCheckTimeout).
      facts: { activationTimeout: 2, healthCheckTimeout: 1 },
    },
  });
  const hung = await f.flake.buildToplevel("web1");
  let frozen: number[] = [];
  const running = f.inProcess(["web1"], { recoveryGraceSeconds: 1 });
  // The supervisor stops (it never ends the activation) and the session drops.
  await waitFor(
    "the activation",
    async () => (await activations(web1!)).includes(`switch ${hung}`),
  );
  frozen = await hostProcessesWith(web1!, "supervise.sh");
  for (const pid of frozen) Deno.kill(pid, "SIGSTOP");
  await dropSessions(web1!);
  const run = await running;
  for (const pid of frozen) Deno.kill(pid, "SIGCONT");
  assertEquals(run.code, 1, run.stderr);
  const report = hostReport(run.report, "web1");
  assertEquals([report.outcome?.kind, report.failedStep, report.rolledBack], [
    "unknown",
    "activate",
    "expected",
  ]);
  assertStringIncludes(report.error ?? "", "last seen: activating");
});

Deno.test("deploy: a health check that never returns is stopped at healthCheckTimeout and rolled back", async () => {
  await using f = await fleet(1, () => ({ facts: { confirmTimeout: 30 } }));
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  await f.flake.update({
    web1: {
      toplevel: { marker: "2" },
      facts: { healthChecks: ["sleep 600"], healthCheckTimeout: 2 },
    },
  });
  const run = await f.task("web1");
  assertEquals(run.code, 1, run.stderr);
  const report = hostReport(run.report, "web1");
  assertEquals([report.status, report.failedStep, report.rolledBack, report.error], [
    "rolled-back-health-check",
    "health",
    true,
    report.error,
  ]);
  assertStringIncludes(
    report.error ?? "",
    'Health check "sleep 600" failed: ssh: timed out after 2 s',
  );
  assertEquals(await generation(web1!), 1);
});

Deno.test("deploy: a unit failed before the deploy does not roll it back; a unit the deploy fails does", async () => {
  await using f = await fleet(1);
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  await Deno.writeTextFile(web1!.hostPath(FIXTURE_STATE.failedUnits), "old.service\n");
  await f.flake.update({ web1: { toplevel: { marker: "2" } } });
  const good = await f.flake.buildToplevel("web1");
  const kept = await f.task("web1");
  assertEquals(kept.code, 0, kept.stderr);
  assertEquals(hostReport(kept.report, "web1").status, "confirmed");

  await f.flake.update({ web1: { toplevel: { marker: "3", failUnits: ["new.service"] } } });
  const run = await f.task("web1");
  assertEquals(run.code, 1);
  const report = hostReport(run.report, "web1");
  assertEquals([report.status, report.failedStep], ["rolled-back-health-check", "health"]);
  assertStringIncludes(report.error ?? "", "new.service");
  assert(!(report.error ?? "").includes("old.service"), report.error);
  assertEquals([await generation(web1!), await active(web1!)], [2, good]);
});

Deno.test("deploy: SIGTERM stops the deployer: host states reported, no connection left, only its unlocked owner file, the host rolls itself back", async () => {
  await using f = await fleet(1);
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  await f.flake.update({
    web1: {
      toplevel: { marker: "2" },
      facts: { healthChecks: ["sleep 60"], healthCheckTimeout: 120 },
    },
  });
  const running = f.spawn("web1");
  const pid = await running.deployerPid();
  await waitFor(
    "the health check",
    async () => (await hostProcessesWith(web1!, "sleep 60")).length > 0,
  );
  const dir = await waitFor("the deployer's temp folder", () => runDirOf(pid));
  Deno.kill(pid, "SIGTERM");
  const run = await running.done;
  assertEquals(run.code, 143, run.stderr);
  const report = hostReport(run.report, "web1");
  assertEquals([report.outcome?.kind, report.failedStep, report.rolledBack], [
    "interrupted",
    "health",
    "expected",
  ]);
  // The host's supervisor still waits: the owner file, unlocked, is left as the proof that this
  // deployer is gone (a rerun may take its run over); nothing else is.
  assertEquals(
    (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name),
    ["owner"],
    "only the owner file is left",
  );
  const owner = await Deno.open(`${dir}/owner`, { read: true, write: true });
  try {
    assert(await owner.tryLock(true), "and its lock is free");
  } finally {
    owner.close();
  }
  const left = await waitFor(
    "the deployer's ssh processes to end",
    async () => (await localProcessesWith(dir)).length === 0 || undefined,
    10,
  ).catch(async () => await localProcessesWith(dir));
  assertEquals(left, true, "no ssh process of the deployer is left");
  await waitFor("the host's own rollback", async () => (await generation(web1!)) === 1, 30);
});

Deno.test("deploy: the target's state dir is removed once final; a last-deploy record stays", async () => {
  await using f = await fleet(1);
  const [web1] = f.list;
  const run = await f.task("web1");
  assertEquals(run.code, 0, run.stderr);
  await settled(web1!);
  assertEquals(
    (await Array.fromAsync(Deno.readDir(web1!.hostPath("/run/devops-deploy")))).map((e) => e.name),
    [],
  );
  const record = await lastDeploy(web1!);
  assertEquals([record.status, record.prev_gen, record.new_gen], ["confirmed", "", "1"]);
  assertMatch(record.run ?? "", /^[0-9a-f]{16}$/);
  assertMatch(record.time ?? "", /^\d{4}-\d\d-\d\dT/);
});

Deno.test("deploy: a failed host's error is one short line, cause first; the command only with --verbose", async () => {
  await using f = await fleet(1);
  const [web1] = f.list;
  await web1!.stop();
  const run = await f.task("web1");
  assertEquals(run.code, 1);
  const error = hostReport(run.report, "web1").error ?? "";
  assert(error.length <= 160, `${error.length} characters: ${error}`);
  assertMatch(error, /^ssh: connection refused to 127\.0\.0\.\d+:22$/);
  const verbose = await f.task("web1", "--verbose");
  assertStringIncludes(hostReport(verbose.report, "web1").error ?? "", "(command: ssh -M -N -f");
});

Deno.test("deno task deploy --all --dry-run works offline on this repository (facts from lib/hosts.nix)", async () => {
  // This repository's example fleet from git: a repository whose owner ran init has no nas1.
  const clone = await createExampleClone();
  const dir = clone.dir;
  try {
    await using bin = await createProgramsBin();
    const run = await runTask(dir, "deploy", ["--all", "--dry-run"], { bin });
    assertEquals(run.code, 0, run.stderr);
    for (
      const part of ["desk1:", "nas1:", "'<toplevel of nas1>'", "activate: ssh", "confirm: ssh"]
    ) {
      assertStringIncludes(run.stdout, part);
    }
    assert(!run.stdout.includes("dev-vm:"), "a host that is not deployable is left out");
    const unknown = await runTask(dir, "deploy", ["nope", "--dry-run"], { bin });
    assertEquals(unknown.code, 2);
    assertStringIncludes(
      unknown.stderr,
      'Cannot deploy "nope": no such host; known hosts: desk1, dev-vm',
    );
  } finally {
    await clone[Symbol.asyncDispose]();
  }
});
