// The scheduling rule of schedule.ts, asserted from the deploy report's own step times as
// `deno task deploy` runs against real sshd test hosts (no machine-speed outcome is asserted).
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/assert.ts";
import { fleet, generation, hostReport, waitFor } from "./_test_fleet.ts";
import type { HostReport, StepTiming } from "./report.ts";

/** Steps that must not start while another host waits for its confirmation. */
const HELD_BACK = new Set(["open-connection", "copy", "copy-derivation", "activate"]);

function stepOf(report: HostReport, id: string): StepTiming {
  const found = report.steps?.find((s) => s.step === id);
  if (found === undefined) throw new Error(`${report.host} has no ${id} step`);
  return found;
}

/**
 * The interval in which `report`'s host waited for its confirmation: from its activation's end
 * to its confirmation's end, cut at its confirm window.
 */
function confirmationWait(report: HostReport, windowMs: number): [number, number] {
  const activated = stepOf(report, "activate").endMs;
  return [activated, Math.min(stepOf(report, "confirm").endMs, activated + windowMs)];
}

Deno.test("deploy: no copy or activation starts while a host waits for its confirmation; at most --max-activations at once", async () => {
  const count = 5;
  const confirmTimeout = 20;
  // A health check that lasts: each host waits for its confirmation long enough that, without
  // the rule, other hosts' activations would start meanwhile.
  await using f = await fleet(count, () => ({
    facts: { confirmTimeout, healthChecks: ["sleep 1"] },
  }));
  const planned = await f.task("--all", "--parallel", "9", "--max-activations", "2", "--dry-run");
  assertEquals(planned.code, 0, planned.stderr);
  assertStringIncludes(
    planned.stdout,
    `"schedule: up to ${count} host(s) at once, at most 2 between activation and answer;`,
  );
  const refused = await f.task("--all", "--max-activations", "0");
  assertEquals([refused.code, refused.stdout], [2, ""]);
  assertStringIncludes(refused.stderr, 'Invalid --max-activations "0"');
  const first = await f.task("--all", "--parallel", String(count));
  assertEquals(first.code, 0, first.stderr);
  await f.flake.update(
    Object.fromEntries(f.list.map((h) => [h.name, { toplevel: { marker: "2" } }])),
  );

  const run = await f.task("--all", "--parallel", String(count), "--max-activations", "2");
  assertEquals(run.code, 0, run.stderr);
  const reports = f.list.map((h) => hostReport(run.report, h.name));
  for (const report of reports) {
    assertEquals([report.host, report.status], [report.host, "confirmed"]);
    const ids = report.steps!.map((s) => s.step);
    assertEquals(ids.filter((id) => id !== "open-connection").slice(0, 2), ["build", "copy"]);
    assert(ids.includes("health-check") && ids.at(-1) === "confirm", ids.join(" "));
  }

  // The rule: no held-back step of another host started inside a host's confirmation wait.
  for (const waiting of reports) {
    const [from, to] = confirmationWait(waiting, confirmTimeout * 1000);
    for (const other of reports.filter((r) => r !== waiting)) {
      for (const step of other.steps!.filter((s) => HELD_BACK.has(s.step))) {
        assert(
          !(step.startMs > from && step.startMs < to),
          `${other.host}'s ${step.step} started at ${step.startMs} ms while ${waiting.host} ` +
            `waited for its confirmation (${from}–${to} ms)`,
        );
      }
    }
  }
  // The bound: at most 2 hosts between their activation's start and their confirmation's end.
  const spans = reports.map((r) => [stepOf(r, "activate").startMs, stepOf(r, "confirm").endMs]);
  for (const [start] of spans) {
    const open = spans.filter(([s, e]) => s! <= start! && start! < e!).length;
    assert(open <= 2, `${open} hosts activating at ${start} ms`);
  }
  // Not vacuous: with 5 hosts and 2 permits some activation had to wait for its turn.
  const waited = reports.map((r) => stepOf(r, "activate")).filter((s) => s.startMs > s.queuedMs!);
  assert(waited.length > 0, "no activation waited: the bound was never reached");
  // …and the user was told why.
  assertMatch(
    run.stderr,
    /waiting: (for an activation slot \(--max-activations 2\)|other hosts' confirmations first)/,
  );
});

Deno.test("deploy: a host frozen in its confirm window among many is rolled back and reported; the others go on", async () => {
  await using f = await fleet(4, () => ({ facts: { confirmTimeout: 3 } }));
  const first = await f.task("--all");
  assertEquals(first.code, 0, first.stderr);
  const [, frozen] = f.list;
  await f.flake.update(
    Object.fromEntries(f.list.map((h) => [h.name, { toplevel: { marker: "2" } }])),
  );
  // One activation at a time: every other host's activation has to wait for the frozen host's
  // window to pass (the window bounds the priority of a host that never answers).
  const run = await f.inProcess(["--all", "--max-activations", "1"], {
    recoveryGraceSeconds: 0,
    hooks: {
      afterActivate: (host) => host === frozen!.name ? frozen!.freeze() : undefined,
    },
  });
  await frozen!.thaw();
  assertEquals(run.code, 1);
  for (const host of f.list) {
    const report = hostReport(run.report, host.name);
    if (host === frozen) {
      assertEquals([report.result, report.failedStep, report.rolledBack], [
        "failed",
        "confirm",
        "expected",
      ]);
    } else {
      assertEquals([report.host, report.status], [host.name, "confirmed"]);
    }
  }
  assertEquals(
    await waitFor("the frozen host's own rollback", async () => {
      const gen = await generation(frozen!);
      return gen === 1 ? gen : undefined;
    }),
    1,
  );
});
