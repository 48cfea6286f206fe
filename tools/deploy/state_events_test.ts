// The deploy's states × events (ARCHITECTURE.md, "Deploy states × events"), issue 22 items 1–8:
// take-over only of a dead deployer's run that does what the rerun would, rollback to what ran,
// liveness proven only by a free owner lock, a safety net that fails closed, a bounded rollback,
// a reboot and a manual switch reported as they are, and a closure diff that never fails a host.
// Real sshd test hosts, real nix, `deno task deploy` as a subprocess with deno.json's permissions.
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import type { TestHost } from "../testing/test_hosts.ts";
import {
  activations,
  active,
  fleet,
  generation,
  hostProcessesWith,
  hostReport,
  lastDeploy,
  PROFILE,
  runDirOf,
  supervisorStates,
  waitFor,
} from "./_test_fleet.ts";

const exists = (path: string) => Deno.lstat(path).then(() => true, () => false);

/** Waits (bounded) until the host has no run state dir and no supervisor process left. */
async function settled(host: TestHost): Promise<void> {
  await waitFor(
    "the supervisor to end",
    async () =>
      Object.keys(await supervisorStates(host)).length === 0 &&
      (await hostProcessesWith(host, "supervise.sh")).length === 0,
    30,
  );
}

/** A health check that waits until the test creates `file` on the host, then exits `code`. */
function gatedCheck(file: string, code: number): string {
  return `while [ ! -e ${file} ]; do sleep 0.1; done; exit ${code}`;
}

async function activated(host: TestHost): Promise<void> {
  await waitFor(
    "the activated state",
    async () => Object.values(await supervisorStates(host)).includes("activated"),
  );
}

// Items 1 and 3 (take-over): a dead deployer's run is adopted only when system, mode and
// rollback all match; else it is told to roll back first. An adopted run with magic rollback
// that the rerun never confirms would revert the host after an "ok": so after the rerun no
// supervisor of the old run may be left.
for (
  const [name, signal, first, rerun] of [
    ["SIGKILL, rerun --no-rollback", "SIGKILL", [], ["--no-rollback"]],
    ["Ctrl-C (SIGINT), rerun --mode boot", "SIGINT", [], ["--mode", "boot"]],
    ["a --mode test run killed, rerun as a switch", "SIGKILL", ["--mode", "test"], []],
  ] as const
) {
  Deno.test(`deploy take-over: ${name} of the same system: the old run is not adopted; the rerun's result stands`, async () => {
    await using f = await fleet(1, () => ({ facts: { confirmTimeout: 60 } }));
    const [web1] = f.list;
    assertEquals((await f.task("web1")).code, 0);
    await f.flake.update({
      web1: {
        toplevel: { marker: "2" },
        facts: { healthChecks: [gatedCheck("/run/never", 0)], healthCheckTimeout: 120 },
      },
    });
    const want = await f.flake.buildToplevel("web1");
    const killed = f.spawn("web1", ...first);
    const pid = await killed.deployerPid();
    await waitFor("the deployer's temp folder", () => runDirOf(pid));
    await activated(web1!);
    Deno.kill(pid, signal);
    await killed.done;

    await f.flake.update({ web1: { facts: { healthChecks: [] } } });
    const run = await f.task("web1", ...rerun);
    assertEquals(run.code, 0, `${run.stderr}\n${JSON.stringify(hostReport(run.report, "web1"))}`);
    const report = hostReport(run.report, "web1");
    assertEquals(report.adoptedRun, undefined, "a run of another mode or rollback is not adopted");
    // Nothing of the old run is left to revert the host later.
    await settled(web1!);
    assertEquals(
      (await lastDeploy(web1!)).status,
      rerun.length === 0 ? "confirmed" : "done",
      "the record is the rerun's",
    );
    assertEquals(await web1!.resolve(PROFILE), want, "the profile holds the rerun's system");
    if (rerun[0] !== "--mode") assertEquals(await active(web1!), want);
  });
}

// Item 3: a live deployer whose temp folder another deployer cannot see (systemd PrivateTmp,
// a container, another machine of the same name) is not dead: the host is busy.
Deno.test("deploy take-over: a live deployer in another mount namespace is not taken for dead: busy, and the first run is confirmed", async () => {
  await using f = await fleet(1, () => ({ facts: { confirmTimeout: 60 } }));
  const [web1] = f.list;
  await f.flake.update({
    web1: {
      toplevel: { marker: "2" },
      facts: { healthChecks: [gatedCheck("/run/go", 0)], healthCheckTimeout: 120 },
    },
  });
  const systemA = await f.flake.buildToplevel("web1");
  const a = f.spawn("web1");
  const pidA = await a.deployerPid();
  await activated(web1!);
  const dirA = await waitFor("A's temp folder", () => runDirOf(pidA));

  // B: another system, where A's folder is hidden by an empty tmpfs (what PrivateTmp gives).
  await f.flake.update({ web1: { toplevel: { marker: "3" }, facts: { healthChecks: [] } } });
  await f.flake.buildToplevel("web1");
  const script = `mount -t tmpfs none ${dirA} && exec "$0" task -q deploy "$@"`;
  const b = await new Deno.Command("unshare", {
    args: [
      "-m",
      "--propagation",
      "private",
      "sh",
      "-c",
      script,
      `${f.bin.dir}/deno`,
      ...f.args(
        "web1",
      ),
    ],
    cwd: f.flake.dir,
    env: { PATH: `${f.bin.dir}:/usr/bin:/bin:/usr/sbin:/sbin`, NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const bOut = new TextDecoder().decode(b.stdout);
  const bReport = JSON.parse(bOut.slice(bOut.indexOf("{")));
  const rb = hostReport(bReport, "web1");
  assertEquals(rb.outcome?.kind, "busy", new TextDecoder().decode(b.stderr));
  assertEquals(b.code, 1);

  await web1!.ssh("touch /run/go");
  const outA = await a.done;
  assertEquals(outA.code, 0, outA.stderr);
  assertEquals(hostReport(outA.report, "web1").status, "confirmed");
  assertEquals(await active(web1!), systemA);
});

// Item 2: the rollback brings back what ran (R), and the profile back to what it held (S, set
// for boot), never S as the running system.
Deno.test("deploy rollback: R running, S set for boot, T's check fails: R runs again and the profile holds S", async () => {
  await using f = await fleet(1, () => ({ facts: { confirmTimeout: 5 } }));
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  const r = await active(web1!);
  await f.flake.update({ web1: { toplevel: { marker: "S" } } });
  const s = await f.flake.buildToplevel("web1");
  assertEquals((await f.task("web1", "--mode", "boot")).code, 0);
  const sGen = await generation(web1!);
  await f.flake.update({
    web1: { toplevel: { marker: "T" }, facts: { healthChecks: ["exit 1"] } },
  });
  const run = await f.task("web1");
  const report = hostReport(run.report, "web1");
  assertEquals([run.code, report.outcome?.kind, report.rolledBack], [1, "rolled-back", true]);
  assertEquals(await active(web1!), r, "what ran before the deploy runs again");
  assertEquals([await generation(web1!), await web1!.resolve(PROFILE)], [sGen, s]);
  const calls = await activations(web1!);
  assertEquals(calls.slice(-2), [`test ${r}`, `boot ${s}`]);
});

Deno.test("deploy rollback: S set for boot, then a switch of S whose check fails: R runs again, never reported rolled back while S runs", async () => {
  await using f = await fleet(1, () => ({ facts: { confirmTimeout: 5 } }));
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  const r = await active(web1!);
  await f.flake.update({ web1: { toplevel: { marker: "S" } } });
  const s = await f.flake.buildToplevel("web1");
  assertEquals((await f.task("web1", "--mode", "boot")).code, 0);
  await f.flake.update({ web1: { facts: { healthChecks: ["exit 1"] } } });
  const run = await f.task("web1");
  const report = hostReport(run.report, "web1");
  assertEquals([run.code, report.rolledBack], [1, true]);
  assertEquals(await active(web1!), r);
  assertEquals(await web1!.resolve(PROFILE), s, "the profile still holds S for the next boot");
});

// Item 4: the safety net fails closed.
Deno.test("deploy safety net: the run's state dir removed by hand in the window: the host rolls back, not confirmed", async () => {
  await using f = await fleet(1, () => ({ facts: { confirmTimeout: 60 } }));
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  const good = await active(web1!);
  const firstRun = (await lastDeploy(web1!)).run;
  await f.flake.update({
    web1: {
      toplevel: { marker: "A" },
      facts: { healthChecks: [gatedCheck("/run/go", 1)], healthCheckTimeout: 120 },
    },
  });
  const a = f.spawn("web1");
  await activated(web1!);
  await web1!.ssh("rm -rf /run/devops-deploy/*/"); // "clean up the stuck deploy"
  await waitFor("the run's record", async () => (await lastDeploy(web1!)).run !== firstRun);
  await web1!.ssh("touch /run/go");
  const out = await a.done;
  assertEquals((await lastDeploy(web1!)).status, "rolled-back-state-removed");
  assertEquals([await active(web1!), await generation(web1!)], [good, 1]);
  const report = hostReport(out.report, "web1");
  assertEquals([out.code, report.rolledBack], [1, true]);
});

Deno.test("deploy safety net: the lock file removed by hand while a run waits in its window: a second deploy is still busy", async () => {
  await using f = await fleet(1, () => ({ facts: { confirmTimeout: 60 } }));
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  const good = await active(web1!);
  await f.flake.update({
    web1: {
      toplevel: { marker: "A" },
      facts: { healthChecks: [gatedCheck("/run/go", 1)], healthCheckTimeout: 120 },
    },
  });
  const a = f.spawn("web1");
  await activated(web1!);
  await f.flake.update({ web1: { toplevel: { marker: "B" }, facts: { healthChecks: [] } } });
  await web1!.ssh("rm -f /run/devops-deploy.lock");
  // The holder puts a lock back, held, at the lock's path.
  await waitFor(
    "the holder's new lock",
    async () =>
      (await web1!.ssh("flock -n /run/devops-deploy.lock true", { okCodes: [0, 1] })).code === 1,
  );
  const b = await f.task("web1");
  assertEquals(hostReport(b.report, "web1").outcome?.kind, "busy", b.stderr);
  // Removed again right before the next deploy: the live run's supervisor still makes the host
  // busy (the new supervisor finds it alive), whoever takes the new lock first.
  await web1!.ssh("rm -f /run/devops-deploy.lock");
  const c = await f.task("web1");
  assertEquals(hostReport(c.report, "web1").outcome?.kind, "busy", c.stderr);
  await web1!.ssh("touch /run/go");
  const outA = await a.done;
  assertEquals(hostReport(outA.report, "web1").outcome?.kind, "rolled-back");
  assertEquals(await active(web1!), good);
});

// Item 5: the rollback's activation is bounded, and reported as it ended.
Deno.test("deploy rollback: a rollback whose activation hangs ends at activationTimeout, reported as rollback-failed; the next deploy runs", async () => {
  await using f = await fleet(1, () => ({
    facts: { confirmTimeout: 3, activationTimeout: 5, healthCheckTimeout: 1 },
  }));
  const [web1] = f.list;
  // The previous system's switch-to-configuration hangs (set for boot, never activated).
  await f.flake.update({ web1: { toplevel: { marker: "1", activationSeconds: 3600 } } });
  assertEquals((await f.task("web1", "--mode", "boot")).code, 0);
  await f.flake.update({
    web1: { toplevel: { marker: "2", activationSeconds: 0, failActivation: true } },
  });
  const bad = await f.task("web1");
  const r = hostReport(bad.report, "web1");
  assertEquals([r.outcome?.kind, r.rolledBack], ["rollback-failed", false], r.error);
  assertStringIncludes(r.error ?? "", "ran over its 5 s timeout");
  await settled(web1!);
  await f.flake.update({
    web1: { toplevel: { marker: "3", activationSeconds: 0, failActivation: false } },
  });
  const next = await f.task("web1");
  assertEquals([next.code, hostReport(next.report, "web1").status], [0, "confirmed"], next.stderr);
});

// Item 6: a reboot during the activation: the host runs the new, never-confirmed system and
// nothing on it rolls back; the deployer says so at once.
Deno.test("deploy: a reboot during the activation is reported as it is: the new system runs unconfirmed and will not roll back by itself", async () => {
  await using f = await fleet(1, () => ({
    facts: { confirmTimeout: 5, activationTimeout: 40, healthCheckTimeout: 2 },
  }));
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  await f.flake.update({ web1: { toplevel: { marker: "2", activationSeconds: 30 } } });
  const next = await f.flake.buildToplevel("web1");
  const run = f.spawn("web1");
  await waitFor(
    "the activation",
    async () => (await activations(web1!)).includes(`switch ${next}`),
  );
  await web1!.kill(); // power loss
  await web1!.start(); // boot: the profile's system, an empty /run
  const out = await run.done;
  const r = hostReport(out.report, "web1");
  assertEquals([r.outcome?.kind, r.rolledBack], ["unknown", false], r.error);
  assertStringIncludes(r.error ?? "", "it runs the new system, never confirmed");
  assertStringIncludes(r.error ?? "", "nothing on it rolls back by itself");
  assertEquals(await active(web1!), next);
});

// Item 7: a manual switch in the window, then a failed check: superseded, not rolled back.
Deno.test("deploy: a manual switch in the window, then a failed check: outcome superseded, not rolled back; the run's generation deleted", async () => {
  await using f = await fleet(1, () => ({ facts: { confirmTimeout: 60 } }));
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  const good = await active(web1!);
  await f.flake.update({
    web1: {
      toplevel: { marker: "2" },
      facts: { healthChecks: [gatedCheck("/run/go", 1)], healthCheckTimeout: 120 },
    },
  });
  const run = f.spawn("web1");
  await activated(web1!);
  // The operator's own switch (to the old system, as a new generation 3).
  await web1!.ssh(
    `nix-env -p ${PROFILE} --set ${good} && ${good}/bin/switch-to-configuration switch`,
  );
  await web1!.ssh("touch /run/go");
  const out = await run.done;
  const r = hostReport(out.report, "web1");
  assertEquals([out.code, r.outcome?.kind, r.rolledBack, r.failedStep], [
    1,
    "superseded",
    false,
    "health",
  ]);
  assertEquals((await lastDeploy(web1!)).status, "superseded-health-check");
  assertEquals([await generation(web1!), await active(web1!)], [3, good]);
  assert(!(await exists(web1!.hostPath(`${PROFILE}-2-link`))), "the run's generation is deleted");
});

// Item 8: the closure diff is information: a target whose nix cannot diff is still deployed.
Deno.test("deploy: a target whose nix cannot run the closure diff is deployed; the diff is noted unavailable", async () => {
  await using f = await fleet(1);
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  // nix 2.3 has no `store diff-closures`: a stand-in first on root's PATH fails it like 2.3.
  await Deno.mkdir(`${web1!.homeDir}/bin`, { recursive: true });
  await Deno.writeTextFile(
    `${web1!.homeDir}/bin/nix`,
    `#!/bin/sh
case " $* " in *" diff-closures "*) echo "error: unrecognised flag '--extra-experimental-features'" >&2; exit 1 ;; esac
exec /usr/bin/nix "$@"
`,
    { mode: 0o755 },
  );
  await Deno.writeTextFile(`${web1!.homeDir}/.bashrc`, "export PATH=/root/bin:$PATH\n");
  await f.flake.update({ web1: { toplevel: { marker: "2" } } });
  const run = await f.task("web1");
  assertEquals([run.code, hostReport(run.report, "web1").status], [0, "confirmed"], run.stderr);
  assertStringIncludes(run.stderr, "closure diff unavailable: error: unrecognised flag");
});

// Row 14: the state dir removed during the activation: the run rolls back once it ends.
Deno.test("deploy safety net: the run's state dir removed during the activation: rolled back when the activation ends", async () => {
  await using f = await fleet(1, () => ({ facts: { confirmTimeout: 30, activationTimeout: 120 } }));
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  const good = await active(web1!);
  await f.flake.update({ web1: { toplevel: { marker: "2", activationSeconds: 20 } } });
  const next = await f.flake.buildToplevel("web1");
  const run = f.spawn("web1");
  await waitFor(
    "the activation",
    async () => (await activations(web1!)).includes(`switch ${next}`),
  );
  await web1!.ssh("rm -rf /run/devops-deploy/*/");
  const out = await run.done;
  const r = hostReport(out.report, "web1");
  assertEquals([r.outcome?.kind, r.status, r.rolledBack], [
    "rolled-back",
    "rolled-back-state-removed",
    true,
  ], r.error);
  assertEquals([await active(web1!), await generation(web1!)], [good, 1]);
});

// Row 16: a manual switch in the window, then the confirmation: confirmed; the operator's
// switch stays.
Deno.test("deploy: a manual switch in the window, then a passing check: confirmed, the operator's switch left as it is", async () => {
  await using f = await fleet(1, () => ({ facts: { confirmTimeout: 60 } }));
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  const good = await active(web1!);
  await f.flake.update({
    web1: {
      toplevel: { marker: "2" },
      facts: { healthChecks: [gatedCheck("/run/go", 0)], healthCheckTimeout: 120 },
    },
  });
  const run = f.spawn("web1");
  await activated(web1!);
  await web1!.ssh(
    `nix-env -p ${PROFILE} --set ${good} && ${good}/bin/switch-to-configuration switch`,
  );
  await web1!.ssh("touch /run/go");
  const out = await run.done;
  assertEquals([out.code, hostReport(out.report, "web1").status], [0, "confirmed"], out.stderr);
  assertEquals([await generation(web1!), await active(web1!)], [3, good]);
});

// Row 21: a reboot in the confirm window: the health check's session dies, the abort finds no
// state of the run: reported as it is, not as a host that rolls back by itself.
Deno.test("deploy: a reboot in the confirm window is reported as it is: the new system runs unconfirmed", async () => {
  await using f = await fleet(1, () => ({ facts: { confirmTimeout: 60 } }));
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  await f.flake.update({
    web1: {
      toplevel: { marker: "2" },
      facts: { healthChecks: [gatedCheck("/run/never", 0)], healthCheckTimeout: 120 },
    },
  });
  const next = await f.flake.buildToplevel("web1");
  const run = f.spawn("web1");
  await activated(web1!);
  await web1!.kill();
  await web1!.start();
  const out = await run.done;
  const r = hostReport(out.report, "web1");
  assertEquals([r.outcome?.kind, r.rolledBack], ["unknown", false], r.error);
  assertStringIncludes(r.error ?? "", "it runs the new system, never confirmed");
  assertEquals(await active(web1!), next);
});

// Row 15 in `--mode test` (the profile is not this run's to move): an operator's switch in the
// window moves the profile all the same; a failed check must not bring back what ran before
// over the operator's system.
Deno.test("deploy: --mode test, a manual switch in the window, then a failed check: superseded, the operator's system keeps running", async () => {
  await using f = await fleet(1, () => ({ facts: { confirmTimeout: 60 } }));
  const [web1] = f.list;
  await f.flake.update({ web1: { toplevel: { marker: "O" } } });
  assertEquals((await f.task("web1")).code, 0);
  const operators = await active(web1!);
  await f.flake.update({ web1: { toplevel: { marker: "R" } } });
  assertEquals((await f.task("web1")).code, 0);
  await f.flake.update({
    web1: {
      toplevel: { marker: "T" },
      facts: { healthChecks: [gatedCheck("/run/go", 1)], healthCheckTimeout: 120 },
    },
  });
  const run = f.spawn("web1", "--mode", "test");
  await activated(web1!);
  // The operator's own switch (to system O, as a new generation 3).
  await web1!.ssh(
    `nix-env -p ${PROFILE} --set ${operators} && ${operators}/bin/switch-to-configuration switch`,
  );
  await web1!.ssh("touch /run/go");
  const out = await run.done;
  const r = hostReport(out.report, "web1");
  assertEquals([out.code, r.outcome?.kind, r.rolledBack], [1, "superseded", false], r.error);
  assertEquals((await lastDeploy(web1!)).status, "superseded-health-check");
  assertEquals([await generation(web1!), await active(web1!)], [3, operators]);
  assert(!(r.error ?? "").includes("was deleted"), r.error);
  assert(await exists(web1!.hostPath(`${PROFILE}-2-link`)), "generation 2 is not this run's");
});

// Row 22: a reboot after a final state changes nothing: the confirmed system boots, the record
// stays (it is under /nix/var), no run state is left to hold the next deploy.
Deno.test("deploy: a reboot after a confirmed run: the system stays, the record stays, the next deploy runs", async () => {
  await using f = await fleet(1, () => ({ facts: { confirmTimeout: 60 } }));
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  await f.flake.update({ web1: { toplevel: { marker: "2" } } });
  const first = await f.task("web1");
  assertEquals(first.code, 0, first.stderr);
  const confirmed = await active(web1!);
  const record = await lastDeploy(web1!);
  assertEquals(record.status, "confirmed");
  await web1!.kill();
  await web1!.start();
  assertEquals([await active(web1!), await generation(web1!)], [confirmed, 2]);
  assertEquals(await lastDeploy(web1!), record);
  assertEquals(await supervisorStates(web1!), {});
  await f.flake.update({ web1: { toplevel: { marker: "3" } } });
  const next = await f.task("web1");
  assertEquals([next.code, hostReport(next.report, "web1").status], [0, "confirmed"], next.stderr);
  assertEquals(await generation(web1!), 3);
});

// Row 11 with a deploy of other hosts in between: the interrupted deployer's owner file is the
// only proof that it is dead; a deploy of other hosts from the same machine must not take that
// proof away from the rerun of the host it left waiting.
Deno.test("deploy take-over: Ctrl-C, a deploy of another host, then the rerun: the run is still taken over", async () => {
  await using f = await fleet(2, () => ({ facts: { confirmTimeout: 60 } }));
  const [web1] = f.list;
  assertEquals((await f.task("--all")).code, 0);
  await f.flake.update({
    web1: {
      toplevel: { marker: "2" },
      facts: { healthChecks: [gatedCheck("/run/never", 0)], healthCheckTimeout: 120 },
    },
    web2: { toplevel: { marker: "2" } },
  });
  const killed = f.spawn("web1");
  const pid = await killed.deployerPid();
  const dir = await waitFor("the deployer's temp folder", () => runDirOf(pid));
  await activated(web1!);
  Deno.kill(pid, "SIGINT");
  await killed.done;
  assert(await exists(`${dir}/owner`), "the interrupted deployer leaves its owner file");

  const other = await f.task("web2");
  assertEquals(other.code, 0, other.stderr);

  await f.flake.update({ web1: { facts: { healthChecks: [] } } });
  const rerun = await f.task("web1");
  const report = hostReport(rerun.report, "web1");
  assertEquals([rerun.code, report.status], [0, "confirmed"], report.error);
  assert(report.adoptedRun !== undefined, "the run is taken over, not busy");
});

// Row 15 with a manual `switch-to-configuration test` (the profile left alone): another
// system runs in the window, so the run is superseded as well; its rollback must not activate
// what ran before over the operator's system.
Deno.test("deploy: a manual test activation of another system in the window, then a failed check: superseded, the operator's system keeps running", async () => {
  await using f = await fleet(1, () => ({ facts: { confirmTimeout: 60 } }));
  const [web1] = f.list;
  await f.flake.update({ web1: { toplevel: { marker: "O" } } });
  assertEquals((await f.task("web1")).code, 0);
  const operators = await active(web1!);
  await f.flake.update({ web1: { toplevel: { marker: "R" } } });
  assertEquals((await f.task("web1")).code, 0);
  await f.flake.update({
    web1: {
      toplevel: { marker: "T" },
      facts: { healthChecks: [gatedCheck("/run/go", 1)], healthCheckTimeout: 120 },
    },
  });
  const run = f.spawn("web1");
  await activated(web1!);
  await web1!.ssh(`${operators}/bin/switch-to-configuration test`);
  await web1!.ssh("touch /run/go");
  const out = await run.done;
  const r = hostReport(out.report, "web1");
  assertEquals([out.code, r.outcome?.kind, r.rolledBack], [1, "superseded", false], r.error);
  assertStringIncludes(r.error ?? "", `another system was activated on the host during the run`);
  assertEquals((await lastDeploy(web1!)).status, "superseded-health-check");
  assertEquals(await active(web1!), operators);
});
