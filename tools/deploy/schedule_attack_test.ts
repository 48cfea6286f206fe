// Attacks on the deploy scheduler (schedule.ts) with real sshd test hosts and
// `deno task deploy`: hostile flag values, signals while hosts wait at the gate, hosts that fail,
// are busy or hang while holding an activation permit, modes without a confirmation, and the
// report's step times on every path.
import { FIXTURE_STATE } from "../testing/fixture_flake.ts";
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import {
  activations,
  fleet,
  hostProcessesWith,
  hostReport,
  type Outcome,
  waitFor,
} from "./_test_fleet.ts";
import type { DeployReport } from "./report.ts";

Deno.test("deploy: odd --max-activations and --confirm-timeout values are refused in one line, before anything runs", async () => {
  await using f = await fleet(2);
  const refused: [string, string][] = [
    ["--max-activations", "0"],
    ["--max-activations", "-1"],
    ["--max-activations", "1.5"],
    ["--max-activations", "abc"],
    ["--max-activations", "99999999999999999999"],
    ["--max-activations", "9".repeat(400)],
    // Past the facts' own bound a timer overflows (it would fire at once: no priority for the
    // host, and its confirmation killed as soon as it starts).
    ["--confirm-timeout", "86401"],
    ["--confirm-timeout", "3000000"],
    ["--connect-timeout", "3000000"],
  ];
  for (const [flag, value] of refused) {
    const run = await f.task("--all", flag, value, "--dry-run");
    assertEquals([flag, value, run.code, run.stdout], [flag, value, 2, ""], run.stderr);
    const line = run.stderr.trim();
    assert(!line.includes("\n"), line);
    assertStringIncludes(line, `Invalid ${flag} "${value}"`);
  }
  // Larger than --parallel (or than the fleet): the bound is the number of hosts run at once.
  for (const value of ["1000000", "08"]) {
    const run = await f.task("--all", "--parallel", "1", "--max-activations", value, "--dry-run");
    assertEquals(run.code, 0, run.stderr);
    assertStringIncludes(run.stdout, "up to 1 host(s) at once, at most 1 between activation");
  }
  const longest = await f.task("--all", "--confirm-timeout", "86400", "--dry-run");
  assertEquals(longest.code, 0, longest.stderr);
});

/** Every host's `steps`: build first, then in order; each queued ≤ started ≤ ended. */
function assertStepsConsistent(report: DeployReport | undefined): void {
  assert(report !== undefined, "no report");
  for (const host of report.hosts) {
    const steps = host.steps ?? [];
    assertEquals([host.host, steps[0]?.step], [host.host, "build"]);
    const build = steps[0]!;
    let previousEnd = build.endMs;
    for (const step of steps) {
      const where = `${host.host}'s ${step.step} ${JSON.stringify(step)}`;
      assert(step.startMs <= step.endMs, where);
      assert(step.queuedMs === undefined || step.queuedMs <= step.startMs, where);
      assert(step.endMs <= host.durationMs, `${where} ends after the host's ${host.durationMs} ms`);
      // The shared connection of the first hosts opens during the build.
      if (step === build || step.step === "open-connection" && step.queuedMs === undefined) {
        continue;
      }
      assert(step.startMs >= previousEnd, `${where} starts before the step before it ended`);
      previousEnd = step.endMs;
    }
  }
}

/** The span each host held its activation permit: activation start to its last step's end. */
function permitSpans(report: DeployReport): [string, number, number][] {
  return report.hosts.flatMap((h) => {
    const activate = h.steps?.find((s) => s.step === "activate");
    return activate ? [[h.host, activate.startMs, h.steps!.at(-1)!.endMs]] : [];
  });
}

/** Resolves with the deploy's outcome, or throws after `seconds` (the deployer waited for something it must not). */
async function within(seconds: number, deploy: Promise<Outcome>): Promise<Outcome> {
  let outcome: Outcome | undefined;
  deploy.then((o) => (outcome = o));
  return await waitFor("the deployer to end", () => Promise.resolve(outcome), seconds);
}

Deno.test("deploy --max-activations 1: hosts that hang, fail, are busy or fail to build never hold the others for good; each is reported", async () => {
  const marker = crypto.randomUUID();
  // web1's activation hangs until its 3 s activationTimeout, web2's fails, web3 is held by
  // another deployer, web4's system cannot be built here; web5 is healthy.
  await using f = await fleet(5, (i) => ({
    facts: {
      confirmTimeout: 30,
      ...(i === 0 ? { activationTimeout: 3 } : {}),
      ...(i === 3 ? { system: "aarch64-linux" } : {}),
    },
    toplevel: {
      // Systems never built before: one host's build failure meets the others' builds.
      marker,
      ...(i === 0 ? { activationSeconds: 600 } : {}),
      ...(i === 1 ? { failActivation: true } : {}),
      ...(i === 2 ? { activationSeconds: 600 } : {}),
    },
  }));
  const [, , web3] = f.list;
  const holder = f.spawn("web3");
  await waitFor(
    "the other deployer's activation",
    async () => (await activations(web3!)).length > 0,
  );

  const run = await within(120, f.task("--all", "--parallel", "5", "--max-activations", "1"));
  // The other deployer is stopped (its activation on web3 goes on under its supervisor).
  Deno.kill(await holder.deployerPid(), "SIGTERM");
  assertEquals((await within(60, holder.done)).code, 143);

  assertEquals(run.code, 1, run.stderr);
  const kinds = run.report!.hosts.map((h) => [h.host, h.outcome?.kind, h.failedStep ?? ""]);
  assertEquals(kinds, [
    ["web1", "rolled-back", "activate"],
    ["web2", "rolled-back", "activate"],
    ["web3", "busy", "activate"],
    ["web4", "failed", "build"],
    ["web5", "confirmed", ""],
  ]);
  assertEquals(hostReport(run.report, "web1").status, "rolled-back-activation-timeout");
  assertStringIncludes(hostReport(run.report, "web4").error ?? "", "aarch64-linux");
  assertStepsConsistent(run.report);
  // One permit: no two hosts between activation and answer at once.
  const spans = permitSpans(run.report!);
  assertEquals(spans.length, 4, JSON.stringify(spans));
  for (const [a, aStart, aEnd] of spans) {
    for (const [b, bStart] of spans) {
      if (a !== b) assert(!(bStart > aStart && bStart < aEnd), `${b} activated inside ${a}'s turn`);
    }
  }
});

// The permit holder is either in its activation (a command on the shared connection) or in
// its health check (a new connection) while the others wait for its permit and its window.
const interruptions = [
  { signal: "SIGINT", during: "activate", code: 130 },
  { signal: "SIGTERM", during: "health", code: 143 },
] as const;
for (const { signal, during, code } of interruptions) {
  Deno.test(`deploy: ${signal} while a host is in its ${during} step and the others wait at the gate ends at once, every host reported`, async () => {
    // Long windows, activations and checks: a deployer that waited for any of them would not
    // end inside the bound below.
    await using f = await fleet(3, () => ({
      facts: { confirmTimeout: 600, healthChecks: ["sleep 600"], healthCheckTimeout: 900 },
      ...(during === "activate" ? { toplevel: { activationSeconds: 600 } } : {}),
    }));
    const running = f.spawn("--all", "--parallel", "3", "--max-activations", "1");
    const pid = await running.deployerPid();
    const holder = await waitFor(`a host's ${during} step`, async () => {
      for (const host of f.list) {
        if ((await hostProcessesWith(host, "sleep 600")).length > 0) return host;
      }
      return undefined;
    });
    Deno.kill(pid, signal);
    const run = await within(60, running.done);
    assertEquals(run.code, code, run.stderr);
    for (const host of f.list) {
      const report = hostReport(run.report, host.name);
      assertEquals([host.name, report.outcome?.kind], [host.name, "interrupted"]);
      if (host === holder) {
        // Its supervisor runs on and rolls back without a confirmation.
        assertEquals([report.failedStep, report.rolledBack], [during, "expected"]);
      } else {
        assertEquals([host.name, report.rolledBack], [host.name, false]);
        assertEquals(await activations(host), [], `${host.name} was never activated`);
      }
    }
    assertStepsConsistent(run.report);
  });
}

Deno.test("deploy: --mode boot, dry-activate, test, --no-rollback and --parallel 1 with --max-activations 1 never wait for a window that has no confirmation", async () => {
  // A window of 600 s: a host held back for another's window would not end inside the bound.
  await using f = await fleet(3, () => ({ facts: { confirmTimeout: 600 } }));
  const runs: [string[], string][] = [
    [["--mode", "boot"], "done"],
    [["--mode", "dry-activate"], "dry-activated"],
    [["--mode", "test"], "confirmed"],
    [["--no-rollback"], "done"],
    // One host at a time: each one's steps, window and all, before the next one's.
    [["--parallel", "1", "--mode", "test"], "confirmed"],
  ];
  for (const [flags, status] of runs) {
    const run = await within(120, f.task("--all", "--max-activations", "1", ...flags));
    assertEquals([flags, run.code], [flags, 0], run.stderr);
    for (const host of run.report!.hosts) {
      assertEquals([flags, host.host, host.status], [flags, host.host, status]);
    }
    assertStepsConsistent(run.report);
  }
});

Deno.test("deploy --max-activations 1: a health check that hangs on the host (over the shared connection) ends at healthCheckTimeout; the permit passes on", async () => {
  await using f = await fleet(2, () => ({ facts: { confirmTimeout: 30, healthCheckTimeout: 3 } }));
  assertEquals((await f.task("--all")).code, 0);
  // web1's check never answers (as one waiting for a stuck service); web2 waits for web1's
  // activation permit, which must pass on once the check is bounded.
  await f.flake.update({
    web1: {
      toplevel: { marker: "2" },
      facts: { confirmTimeout: 30, healthCheckTimeout: 3, healthChecks: ["sleep 600"] },
    },
    web2: { toplevel: { marker: "2" } },
  });
  const run = await within(90, f.task("--all", "--max-activations", "1"));
  assertEquals(run.code, 1, run.stderr);
  const web1Report = hostReport(run.report, "web1");
  assertEquals([web1Report.outcome?.kind, web1Report.failedStep], ["rolled-back", "health"]);
  assertStringIncludes(web1Report.error ?? "", "timed out after 3 s");
  assertEquals(hostReport(run.report, "web2").status, "confirmed");
  assertStepsConsistent(run.report);
});

Deno.test("deploy --max-activations 1: a built-in check that hangs on the host ends at healthCheckTimeout (in the supervisor); the permit passes on", async () => {
  await using f = await fleet(2, () => ({ facts: { confirmTimeout: 30, healthCheckTimeout: 3 } }));
  const [web1] = f.list;
  assertEquals((await f.task("--all")).code, 0);
  await f.flake.update({
    web1: { toplevel: { marker: "2" } },
    web2: { toplevel: { marker: "2" } },
  });
  // web1's systemctl never lists the failed units (as one hung on a stuck manager), in the old
  // system and the new one alike: the supervisor runs the check right after the activation, so
  // the hang is in place before. The activation itself runs: the new system is the one running.
  await Deno.writeTextFile(web1!.hostPath(FIXTURE_STATE.hangListUnits), "");
  const run = await within(90, f.inProcess(["--all", "--max-activations", "1"]));
  assertEquals(run.code, 1, run.stderr);
  const web1Report = hostReport(run.report, "web1");
  assertEquals([web1Report.outcome?.kind, web1Report.failedStep], ["rolled-back", "health"]);
  assertStringIncludes(web1Report.error ?? "", "timed out after 3 s");
  assertEquals(hostReport(run.report, "web2").status, "confirmed");
  assertStepsConsistent(run.report);
});

Deno.test("deploy --ask: one host between activation and answer at a time (a question holds the deployer while others' windows run)", async () => {
  await using f = await fleet(2);
  // --ask needs a terminal: script(1) gives the task one.
  const command = [`${f.bin.dir}/deno`, "task", "-q", "deploy", ...f.args("--all", "--ask")]
    .map((a) => `'${a}'`).join(" ");
  const out = await new Deno.Command("/usr/bin/script", {
    args: ["-qec", `${command} --dry-run`, "/dev/null"],
    cwd: f.flake.dir,
    env: { PATH: f.bin.dir, NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, text);
  assertStringIncludes(
    /"schedule: [^"]*"/.exec(text)?.[0] ?? text,
    "up to 2 host(s) at once, at most 1 between activation and answer",
  );
});
