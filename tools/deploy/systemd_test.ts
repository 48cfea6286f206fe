// Deploy against real systemd: systemd test hosts (systemd-nspawn, tools/testing/systemd_hosts.ts)
// and fixture systems whose units switch-to-configuration installs, restarts and stops.
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import type { FixtureUnit } from "../testing/fixture_flake.ts";
import {
  startSystemdHosts,
  type SystemdHost,
  type SystemdHosts,
} from "../testing/systemd_hosts.ts";
import { runTask } from "../testing/task.ts";
import type { DeployReport } from "./report.ts";
import {
  activations,
  active,
  fleet,
  generation,
  hostReport,
  lastDeploy,
  localProcessesWith,
  runDirOf,
  supervisorStates,
  waitFor,
} from "./_test_fleet.ts";

/** One systemd host `web1` whose first system (generation 1, deployed) runs `units`. */
async function systemdFleet(units: Record<string, FixtureUnit>, facts = {}) {
  const f = await fleet<SystemdHosts>(
    1,
    () => ({ toplevel: { units }, facts: { confirmTimeout: 5, healthCheckTimeout: 10, ...facts } }),
    startSystemdHosts,
  );
  const web1 = f.hosts.host("web1") as SystemdHost;
  const first = await f.task("web1");
  assertEquals(first.code, 0, first.stderr);
  return { ...f, web1 };
}

async function unitState(host: SystemdHost, unit: string): Promise<string> {
  return (await host.ssh(["systemctl", "show", "-p", "ActiveState", "--value", unit])).stdout
    .trim();
}

Deno.test("systemd: a unit that fails seconds after a good start rolls the deploy back", async () => {
  await using f = await systemdFleet({ "app.service": "ok" });
  const good = await active(f.web1);
  assertEquals(await unitState(f.web1, "app.service"), "active");

  await f.flake.update({
    web1: { toplevel: { marker: "2", units: { "app.service": "fail-later" } } },
  });
  const run = await f.task("web1");
  const report = hostReport(run.report, "web1");
  assertEquals(run.code, 1, run.stderr);
  assertEquals(report.result, "failed");
  assertStringIncludes(report.error ?? "", "Built-in check failed");
  assertStringIncludes(report.error ?? "", "app.service");
  assertEquals(report.rolledBack, true);
  assertEquals(await active(f.web1), good, "the good system runs again");
  assertEquals(await generation(f.web1), 1);
  assertEquals(await unitState(f.web1, "app.service"), "active", "its unit restarted");
});

Deno.test("systemd: a good deploy is confirmed while a boot job keeps systemd starting", async () => {
  await using f = await systemdFleet({ "app.service": "ok" });
  await f.web1.addBootUnit(
    "slow-boot.service",
    "[Service]\nType=oneshot\nExecStart=/bin/sleep 600\n",
  );
  await f.web1.reboot();
  const state = await f.web1.ssh("systemctl is-system-running", { okCodes: [1] });
  assertEquals(state.stdout.trim(), "starting", "the boot job still runs");

  await f.flake.update({
    web1: { toplevel: { marker: "2", units: { "app.service": "ok", "api.service": "ok" } } },
  });
  const run = await f.task("web1");
  const report = hostReport(run.report, "web1");
  assertEquals(run.code, 0, run.stderr);
  assertEquals([report.result, report.status], ["ok", "confirmed"]);
  assertEquals(await generation(f.web1), 2);
  assertEquals(await unitState(f.web1, "api.service"), "active");
  assertEquals(await lastDeploy(f.web1).then((r) => r.units_check), "passed");

  // The same boot, a release whose unit fails: judged by the units it touched, rolled back.
  await f.flake.update({
    web1: { toplevel: { marker: "3", units: { "app.service": "fail-later" } } },
  });
  const bad = await f.task("web1");
  assertEquals(bad.code, 1, bad.stderr);
  assertStringIncludes(hostReport(bad.report, "web1").error ?? "", "app.service");
  assertEquals(await generation(f.web1), 2);
});

Deno.test("systemd: --mode boot leaves the running system and reports it; a reboot runs the new one", async () => {
  await using f = await systemdFleet({ "app.service": "ok" });
  const running = await active(f.web1);
  await f.flake.update({
    web1: { toplevel: { marker: "2", units: { "app.service": "ok", "api.service": "ok" } } },
  });
  const run = await f.task("web1", "--mode", "boot");
  const report = hostReport(run.report, "web1");
  assertEquals(run.code, 0, run.stderr);
  assertEquals([report.result, report.newGeneration], ["ok", 2]);
  assertEquals(await active(f.web1), running, "/run/current-system is the old system");
  assertEquals(report.activeGeneration, 1, "the report names the generation that runs");
  assertEquals(await unitState(f.web1, "api.service"), "inactive");

  await f.web1.reboot();
  const next = await f.web1.resolve("/nix/var/nix/profiles/system");
  assert(next !== running);
  assertEquals(await f.web1.resolve("/run/booted-system"), next);
  assertEquals(await active(f.web1), next);
  await f.web1.ssh("systemctl is-system-running --wait", { okCodes: [1] });
  assertEquals(await unitState(f.web1, "api.service"), "active", "the new system's units started");
});

Deno.test("systemd: the supervisor is a collected systemd-run unit; old failed units are not blamed; a unit that fails to start rolls back", async () => {
  await using f = await systemdFleet({ "app.service": "ok" });
  const journal = (await f.web1.ssh("journalctl -b --no-pager -o cat")).stdout;
  assert(/Started devops-deploy-[0-9a-f]+\.service/.test(journal), "the supervisor ran as a unit");
  const left = await f.web1.ssh("systemctl list-units --all --no-legend --plain 'devops-deploy-*'");
  assertEquals(left.stdout.trim(), "", "and was collected once final");

  // A unit failed before the deploy is the host's history, not the deploy's fault.
  await f.web1.ssh("systemd-run --unit=oldfail /bin/false; sleep 1", { okCodes: [0, 1] });
  assertEquals(await unitState(f.web1, "oldfail.service"), "failed");
  await f.flake.update({
    web1: { toplevel: { marker: "2", units: { "app.service": "ok", "api.service": "ok" } } },
  });
  const run = await f.task("web1");
  assertEquals(run.code, 0, run.stderr);
  assertEquals(hostReport(run.report, "web1").status, "confirmed");
  assertStringIncludes((await lastDeploy(f.web1)).failed_before ?? "", "oldfail.service");

  // A unit that fails to start: switch-to-configuration exits 4, the host goes back.
  await f.flake.update({
    web1: { toplevel: { marker: "3", units: { "app.service": "fail", "api.service": "ok" } } },
  });
  const bad = await f.task("web1");
  const report = hostReport(bad.report, "web1");
  assertEquals(bad.code, 1, bad.stderr);
  assertEquals([report.status, report.rolledBack], ["rolled-back-activation", true]);
  assertEquals(await generation(f.web1), 2);
  assertEquals(await unitState(f.web1, "app.service"), "active", "generation 2's unit again");
});

Deno.test("systemd: a unit that hangs on start is ended at the activation timeout and rolled back", async () => {
  await using f = await systemdFleet({ "app.service": "ok" }, { activationTimeout: 5 });
  await f.flake.update({
    web1: { toplevel: { marker: "2", units: { "app.service": "ok", "stuck.service": "hang" } } },
  });
  const run = await f.task("web1");
  const report = hostReport(run.report, "web1");
  assertEquals(run.code, 1, run.stderr);
  assertEquals([report.status, report.rolledBack], ["rolled-back-activation-timeout", true]);
  assertEquals(await generation(f.web1), 1);
  // The old system has no such unit: its switch-to-configuration stopped it, which cancels the
  // start job and kills its process. Real systemd then keeps the unit loaded as `failed` (the
  // stand-in knew nothing of this): the host is degraded by a unit of the rolled-back release.
  const stuck = await unitState(f.web1, "stuck.service");
  assert(stuck === "failed" || stuck === "inactive", `stuck.service is ${stuck}`);
  const sleeping = await f.web1.ssh("pgrep -f 'sleep infinit[y]'", { okCodes: [1] });
  assertEquals(sleeping.stdout.trim(), "", "its process is gone");
  assertEquals(await unitState(f.web1, "app.service"), "active");
});

Deno.test("systemd: a release that stops sshd cannot be confirmed; the host rolls back and sshd is back", async () => {
  await using f = await systemdFleet({ "app.service": "ok" }, { confirmTimeout: 5 });
  const good = await active(f.web1);
  await f.flake.update({
    web1: {
      toplevel: { marker: "2", units: { "app.service": "ok", "breaker.service": "stop-sshd" } },
    },
  });
  const run = await f.task("web1");
  assertEquals(run.code, 1, run.stderr);
  assertEquals(hostReport(run.report, "web1").result, "failed");
  // The target rolled back on its own (nobody could confirm): sshd is back and so is the system.
  let back = false;
  for (let i = 0; i < 60 && !back; i++) back = await f.web1.canConnect(2);
  assert(back, "sshd answers again");
  assertEquals(await active(f.web1), good);
  assertEquals(await generation(f.web1), 1);
  assertEquals((await lastDeploy(f.web1)).status, "rolled-back-timeout");
  assertEquals(await unitState(f.web1, "ssh.service"), "active");
});

Deno.test("systemd: a non-root deploy user deploys through sudo, without a password and with --ask-sudo-password", async () => {
  const users = [
    { name: "deployer", sudo: "nopasswd" as const },
    { name: "asker", sudo: "password" as const, password: "s3cret" },
  ];
  await using f = await fleet<SystemdHosts>(
    1,
    () => ({
      toplevel: { units: { "app.service": "ok" } },
      facts: { user: "deployer", confirmTimeout: 5, healthCheckTimeout: 10 },
    }),
    (count, options) => startSystemdHosts(count, { ...options, users }),
  );
  const web1 = f.hosts.host("web1") as SystemdHost;
  const first = await f.task("web1");
  assertEquals(first.code, 0, first.stderr);
  assertEquals(hostReport(first.report, "web1").status, "confirmed");
  assertEquals(await generation(web1), 1);
  assertEquals(await unitState(web1, "app.service"), "active");
  assertEquals((await lastDeploy(web1)).units_check, "passed");

  // A user whose sudo asks for a password: without it, a one-line error; with it, deployed.
  await f.flake.update({
    web1: {
      facts: { user: "asker" },
      toplevel: { marker: "2", units: { "app.service": "ok", "api.service": "ok" } },
    },
  });
  const refused = await f.task("web1");
  assertEquals(refused.code, 1, refused.stderr);
  assertStringIncludes(hostReport(refused.report, "web1").error ?? "", "password");
  assertEquals(await generation(web1), 1);
  const asked = await runTask(f.flake.dir, "deploy", f.args("web1", "--ask-sudo-password"), {
    bin: f.bin,
    stdin: "s3cret\n",
  });
  assertEquals(asked.code, 0, asked.stderr);
  const report = JSON.parse(asked.stdout.slice(asked.stdout.indexOf("{"))) as DeployReport;
  assertEquals(hostReport(report, "web1").status, "confirmed");
  assertEquals(await generation(web1), 2);
  assertEquals(await unitState(web1, "api.service"), "active");
  assert(!asked.stderr.includes("s3cret") && !asked.stdout.includes("s3cret"));
});

Deno.test("systemd: a deployer killed in the confirm window with all its SSH sessions: the supervisor unit rolls back alone", async () => {
  await using f = await systemdFleet({ "app.service": "ok" });
  const good = await active(f.web1);
  // The deployer waits in a long health check while the host waits for its confirmation.
  await f.flake.update({
    web1: {
      toplevel: { marker: "2", units: { "app.service": "ok", "api.service": "ok" } },
      facts: { healthChecks: ["sleep 60"], healthCheckTimeout: 120, confirmTimeout: 8 },
    },
  });
  const killed = f.spawn("web1");
  const pid = await killed.deployerPid();
  await waitFor(
    "the activated state",
    async () => Object.values(await supervisorStates(f.web1)).includes("activated"),
  );
  const runDir = await waitFor("the deployer's temp folder", () => runDirOf(pid));
  Deno.kill(pid, "SIGKILL");
  // Its ssh clients too (the shared connection's master): every session on the host ends.
  for (const client of await localProcessesWith(runDir)) Deno.kill(client, "SIGKILL");
  await killed.done;
  const units = await f.web1.ssh("systemctl list-units --no-legend --plain 'devops-deploy-*'");
  assertStringIncludes(units.stdout, "devops-deploy-", "the supervisor runs on as a unit");

  const record = await waitFor("the host's rollback", async () => {
    const last = await lastDeploy(f.web1);
    return last.status?.startsWith("rolled-back") ? last : undefined;
  });
  assertEquals(record.status, "rolled-back-timeout");
  assertEquals([await generation(f.web1), await active(f.web1)], [1, good]);
  assertEquals(await unitState(f.web1, "api.service"), "inactive", "the new unit was stopped");
  const left = await f.web1.ssh("systemctl list-units --all --no-legend --plain 'devops-deploy-*'");
  assertEquals(left.stdout.trim(), "", "the supervisor unit was collected");
});

Deno.test("systemd: health checks ask the real systemctl; a failing one rolls the units back too", async () => {
  await using f = await systemdFleet({ "app.service": "ok" });
  await f.flake.update({
    web1: {
      toplevel: { marker: "2", units: { "app.service": "ok", "api.service": "ok" } },
      facts: { healthChecks: ["systemctl is-active app.service api.service"] },
    },
  });
  const good = await f.task("web1");
  assertEquals(good.code, 0, good.stderr);
  assertEquals(hostReport(good.report, "web1").status, "confirmed");

  await f.flake.update({
    web1: {
      toplevel: { marker: "3", units: { "app.service": "ok", "web.service": "ok" } },
      facts: { healthChecks: ["systemctl is-active api.service"] },
    },
  });
  const bad = await f.task("web1");
  const report = hostReport(bad.report, "web1");
  assertEquals(bad.code, 1, bad.stderr);
  assertEquals([report.status, report.failedStep], ["rolled-back-health-check", "health"]);
  assertEquals(await generation(f.web1), 2);
  // Generation 2's switch-to-configuration stopped what 3 added and started what it removed.
  assertEquals(await unitState(f.web1, "web.service"), "inactive");
  assertEquals(await unitState(f.web1, "api.service"), "active");
});

// The built-in check judges the units this deploy's activation started or restarted: a unit
// that something else started during the activation (a timer's job, a socket-activated
// service, an operator's `systemd-run`) and that failed is not the deploy's doing.
Deno.test("systemd: a unit started by something else during the activation and failing does not roll the deploy back", async () => {
  await using f = await systemdFleet({ "app.service": "ok" });
  await f.flake.update({
    web1: { toplevel: { marker: "2", activationSeconds: 6, units: { "app.service": "ok" } } },
  });
  const next = await f.flake.buildToplevel("web1");
  const run = f.spawn("web1");
  await waitFor(
    "the activation",
    async () => (await activations(f.web1)).includes(`switch ${next}`),
  );
  // A job a timer would start (timers are masked on the test hosts): it fails at once.
  await f.web1.ssh(["systemd-run", "--unit=nightly-job", "/bin/false"]);
  const out = await run.done;
  const report = hostReport(out.report, "web1");
  assertEquals([out.code, report.status], [0, "confirmed"], report.error);
  assertEquals(await unitState(f.web1, "nightly-job.service"), "failed");
  assertEquals(await active(f.web1), next);

  // A unit the activation names among others ("starting the following units: a, b") is judged.
  await f.flake.update({
    web1: {
      toplevel: {
        marker: "3",
        units: { "app.service": "ok", "api.service": "ok", "worker.service": "fail-later" },
      },
    },
  });
  const bad = await f.task("web1");
  const r = hostReport(bad.report, "web1");
  assertEquals([bad.code, r.rolledBack], [1, true], bad.stderr);
  assertStringIncludes(r.error ?? "", "worker.service");
  assertEquals(await active(f.web1), next);
});
