// Regression tests of deploy's round trips and target-side cost per host (issue 14): how many
// SSH connections and sessions one host's deploy opens (counted from the test host's own sshd
// log), the built-in units check inside the activation's session, health checks over the
// shared connection, and waits on the target that fork little. Real sshd test hosts, real nix,
// `deno task deploy` as a subprocess; the target scripts run over real SSH.
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { FIXTURE_STATE } from "../testing/fixture_flake.ts";
import { startTestHosts, type TestHost } from "../testing/test_hosts.ts";
import {
  fleet,
  generation,
  hostProcessesWith,
  hostReport,
  scriptPlan,
  waitFor,
} from "./_test_fleet.ts";
import { activateCommand, healthCheckCommand, newRunId, unitsCheckCommand } from "./commands.ts";
import { LAST_DEPLOY_RECORD, parseKeyValues, parseRemoteState } from "../lib/fleet/mod.ts";

/** What the host's sshd logged so far: sessions started, by the client port of their connection. */
async function sshdSessions(host: TestHost): Promise<Map<string, number>> {
  const log = await Deno.readTextFile(host.logFile);
  const sessions = new Map<string, number>();
  for (const match of log.matchAll(/Starting session: .* port (\d+) id \d+/g)) {
    sessions.set(match[1]!, (sessions.get(match[1]!) ?? 0) + 1);
  }
  return sessions;
}

/** Connections and sessions the host's sshd saw since `before`: sessions per connection, sorted. */
async function sessionsSince(host: TestHost, before: Map<string, number>): Promise<number[]> {
  const now = await sshdSessions(host);
  return [...now].map(([port, n]) => n - (before.get(port) ?? 0)).filter((n) => n > 0).sort();
}

/** Authenticated connections the host's sshd logged so far. */
async function sshdConnections(host: TestHost): Promise<number> {
  return (await Deno.readTextFile(host.logFile)).match(/Accepted publickey for /g)?.length ?? 0;
}

Deno.test("deploy: one host's deploy is two SSH connections and four sessions; health checks are sessions on the shared one", async () => {
  await using f = await fleet(1);
  const [web1] = f.list;
  let before = await sshdSessions(web1!);
  let connections = await sshdConnections(web1!);
  const first = await f.task("web1");
  assertEquals(first.code, 0, first.stderr);
  // The shared connection: copy, diff, activation with its built-in check; the confirmation's
  // own connection: one session.
  assertEquals(await sessionsSince(web1!, before), [1, 3]);
  assertEquals((await sshdConnections(web1!)) - connections, 2);

  await f.flake.update({
    web1: { toplevel: { marker: "2" }, facts: { healthChecks: ["true", "test -d /nix"] } },
  });
  before = await sshdSessions(web1!);
  connections = await sshdConnections(web1!);
  const checked = await f.task("web1");
  assertEquals(checked.code, 0, checked.stderr);
  assertEquals(hostReport(checked.report, "web1").status, "confirmed");
  // Each health check is one more session on the shared connection, never a connection.
  assertEquals(await sessionsSince(web1!, before), [1, 5]);
  assertEquals((await sshdConnections(web1!)) - connections, 2);
});

Deno.test("deploy: a unit the deploy fails is found by the activation's own session, rolled back and reported at the health step", async () => {
  await using f = await fleet(1);
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  await Deno.writeTextFile(web1!.hostPath(FIXTURE_STATE.failedUnits), "old.service\n");
  await f.flake.update({ web1: { toplevel: { marker: "2", failUnits: ["new.service"] } } });
  const before = await sshdSessions(web1!);
  const run = await f.task("web1");
  assertEquals(run.code, 1, run.stderr);
  const report = hostReport(run.report, "web1");
  assertEquals([report.status, report.failedStep, report.rolledBack, report.error], [
    "rolled-back-health-check",
    "health",
    true,
    "Built-in check failed: units failed since the activation: new.service",
  ]);
  assertEquals(await generation(web1!), 1);
  // No session of its own for the check: copy, diff, activation; the abort on its own.
  assertEquals(await sessionsSince(web1!, before), [1, 3]);
});

Deno.test("deploy --no-rollback: a unit the deploy fails is reported at the health step, nothing rolled back", async () => {
  await using f = await fleet(1);
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  await f.flake.update({ web1: { toplevel: { marker: "2", failUnits: ["new.service"] } } });
  const run = await f.task("web1", "--no-rollback");
  assertEquals(run.code, 1, run.stderr);
  const report = hostReport(run.report, "web1");
  assertEquals([report.status, report.failedStep, report.rolledBack, report.error], [
    "done",
    "health",
    false,
    "Built-in check failed: units failed since the activation: new.service",
  ]);
  assertEquals(await generation(web1!), 2);
});

Deno.test("deploy: a health check that hangs on the shared connection is ended on the target at its bound", async () => {
  await using f = await fleet(1, () => ({ facts: { confirmTimeout: 30 } }));
  const [web1] = f.list;
  assertEquals((await f.task("web1")).code, 0);
  await f.flake.update({
    web1: {
      toplevel: { marker: "2" },
      facts: { healthChecks: ["sleep 600"], healthCheckTimeout: 2 },
    },
  });
  const before = await sshdSessions(web1!);
  const run = await f.task("web1");
  assertEquals(run.code, 1, run.stderr);
  const report = hostReport(run.report, "web1");
  assertEquals([report.status, report.failedStep, report.error], [
    "rolled-back-health-check",
    "health",
    'Health check "sleep 600" failed: ssh: timed out after 2 s',
  ]);
  assertEquals(await sessionsSince(web1!, before), [1, 4]);
  assertEquals(await hostProcessesWith(web1!, "sleep 600"), []);
});

/**
 * A system on the host outside the store (mode `test` sets no profile): its activation waits
 * `seconds` and points /run/current-system at it; its systemctl answers `is-system-running`
 * with `running` (or hangs, when `hang`).
 */
async function fakeSystem(host: TestHost, seconds: number, hang = false): Promise<string> {
  const path = "/nix/var/fake-system";
  const dir = host.hostPath(path);
  await Deno.mkdir(`${dir}/bin`, { recursive: true });
  await Deno.mkdir(`${dir}/sw/bin`, { recursive: true });
  await Deno.writeTextFile(
    `${dir}/bin/switch-to-configuration`,
    `#!/bin/sh\nsleep ${seconds}\nln -sfn ${path} /run/current-system\n`,
    { mode: 0o755 },
  );
  await Deno.writeTextFile(
    `${dir}/sw/bin/systemctl`,
    // hang: every call hangs (the check lists the failed units).
    hang
      ? "#!/bin/sh\nexec sleep 600\n"
      : '#!/bin/sh\ncase "$1" in is-system-running) echo running ;; esac\n',
    { mode: 0o755 },
  );
  return path;
}

Deno.test("the built-in check as a step of its own (a run without its result) judges only units failed since, bounded on the target", async () => {
  await using hosts = await startTestHosts(1);
  const [host] = hosts.hosts;
  const system = await fakeSystem(host!, 0);
  const dir = host!.hostPath(system);
  await Deno.writeTextFile(
    `${dir}/sw/bin/systemctl`,
    '#!/bin/sh\n[ "$1" = list-units ] && printf "old.service loaded failed\\nnew.service loaded failed\\n"\nexit 0\n',
  );
  await host!.ssh(`ln -sfn ${system} /run/current-system`);
  const plan = scriptPlan(host!, { healthCheckTimeout: 5 });
  const step = (before: string[]) => healthCheckCommand(plan, unitsCheckCommand(before));
  const failed = await host!.ssh(step(["old.service"]), { okCodes: [1] });
  assertEquals([failed.code, failed.stderr.trim()], [
    1,
    "units failed since the activation: new.service",
  ]);
  assertEquals((await host!.ssh(step(["old.service", "new.service"]))).code, 0);
});

/** Waits (bounded) for the host's last-deploy record of `run` and returns it. */
async function finalRecord(host: TestHost, run: string): Promise<Record<string, string>> {
  return await waitFor("the run's last-deploy record", async () => {
    const text = await Deno.readTextFile(host.hostPath(LAST_DEPLOY_RECORD)).catch(() => "");
    const record = parseKeyValues(text);
    return record.run === run && record.status !== undefined ? record : undefined;
  }, 30);
}

Deno.test("the supervisor's built-in check is bounded: a hanging systemctl is killed at healthCheckTimeout and reported", async () => {
  await using hosts = await startTestHosts(1);
  const [host] = hosts.hosts;
  const system = await fakeSystem(host!, 0, true);
  const run = newRunId();
  const out = await host!.ssh(
    activateCommand(scriptPlan(host!, {}), { run, by: "test" }, system),
    { timeoutMs: 60_000 },
  );
  const state = parseRemoteState(out.stdout);
  assertEquals([state.status, state.unitsCheck], ["activated", {
    passed: false,
    detail: "timed out after 1 s",
  }]);
  // Unconfirmed, it rolls back; the hanging check left nothing running.
  assertEquals((await finalRecord(host!, run)).status, "rolled-back-timeout");
  await waitFor(
    "the hanging check to end",
    async () => (await hostProcessesWith(host!, "sleep 600")).length === 0,
    10,
  );
});

Deno.test("the target's waits read the status with builtins and the clock at most every fifth poll", async () => {
  await using hosts = await startTestHosts(1);
  const [host] = hosts.hosts;
  const system = await fakeSystem(host!, 1);
  // Wrappers on the scripts' PATH count every sleep, date and cat they fork.
  const shim = host!.hostPath("/nix/var/shim");
  await Deno.mkdir(shim, { recursive: true });
  for (const program of ["sleep", "date", "cat"]) {
    await Deno.writeTextFile(
      `${shim}/${program}`,
      `#!/bin/sh\necho ${program} >> /run/forks.log\nexec /usr/bin/${program} "$@"\n`,
      { mode: 0o755 },
    );
  }
  const run = newRunId();
  const out = await host!.ssh(
    `PATH=/nix/var/shim:$PATH; export PATH; ${
      activateCommand(scriptPlan(host!, {}), { run, by: "test" }, system)
    }`,
    { timeoutMs: 60_000 },
  );
  // The launcher and the supervisor polled through a 1 s activation and a 2 s confirm window.
  assertEquals((await finalRecord(host!, run)).status, "rolled-back-timeout");
  const forks = (await Deno.readTextFile(host!.hostPath("/run/forks.log"))).split("\n");
  const count = (program: string) => forks.filter((line) => line === program).length;
  const [sleeps, dates, cats] = [count("sleep"), count("date"), count("cat")];
  assert(sleeps >= 10, `the waits polled (${sleeps} sleeps)`);
  // Each of the three waits reads the clock at its first poll and every fifth after; six
  // dates are one-off (start and end times). Before, every poll forked a date (and a cat).
  assert(dates <= Math.floor(sleeps / 5) + 3 + 6, `${dates} dates for ${sleeps} sleeps`);
  // cat only once per run: the launcher's final state and the supervisor's record.
  assert(cats <= 4, `${cats} cats for ${sleeps} sleeps`);
  assertStringIncludes(out.stdout, "supervisor=setsid");
  const state = parseRemoteState(out.stdout);
  assertEquals([state.status, state.unitsCheck], ["activated", { passed: true }]);
});
