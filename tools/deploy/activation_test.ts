import { assertEquals } from "../testing/assert.ts";
import { builtInCheck, stateOutcome } from "./activation.ts";
import type { HostRun } from "./host_run.ts";
import type { HostOutcome } from "./outcome.ts";
import type { HostPlan } from "./plan.ts";
import { parseRemoteState } from "../lib/fleet/mod.ts";
import { placeholderValues } from "./steps.ts";

const host = {
  host: "web1",
  mode: "switch",
  rollback: true,
  confirmTimeout: 30,
  activationTimeout: 5,
} as HostPlan;

const causeOf = (o: HostOutcome | undefined) => (o && "cause" in o ? o.cause : "");

/** The part of a host's run that builtInCheck() reads and writes. */
function runOf(plan: HostPlan): HostRun {
  return { host: plan, values: placeholderValues(plan) } as unknown as HostRun;
}

Deno.test("builtInCheck() takes the supervisor's result: a failure is the health error, a pass nothing", () => {
  const failed = runOf(host);
  const error = builtInCheck(
    failed,
    parseRemoteState(
      "status=activated\nfailed_before=old.service\nunits_check=failed\n" +
        "units_check_detail=units failed since the activation: new.service\n",
    ),
  );
  assertEquals(error, "Built-in check failed: units failed since the activation: new.service");
  assertEquals([failed.values.failedBefore, failed.values.unitsCheckPending], [
    ["old.service"],
    false,
  ]);
  const passed = runOf(host);
  assertEquals(
    builtInCheck(passed, parseRemoteState("status=activated\nunits_check=passed\n")),
    undefined,
  );
  assertEquals(passed.values.unitsCheckPending, false);
});

Deno.test("builtInCheck() leaves the check to a step of its own when the state has no result of it", () => {
  const older = runOf(host);
  assertEquals(builtInCheck(older, parseRemoteState("status=activated\n")), undefined);
  assertEquals(older.values.unitsCheckPending, true);
  const boot = runOf({ ...host, mode: "boot" });
  assertEquals(builtInCheck(boot, parseRemoteState("status=done\n")), undefined);
  assertEquals(boot.values.unitsCheckPending, false);
});

Deno.test("stateOutcome(): a superseded run is superseded, never rolled back, also from an older supervisor's record", () => {
  const run = runOf(host);
  const now = stateOutcome(
    run,
    parseRemoteState("status=superseded-health-check\nnew_gen=2\nsuperseded_by=3\n"),
    "confirm",
    "Health check failed",
  );
  assertEquals([now?.kind, now?.kind === "superseded" && now.reason], [
    "superseded",
    "health-check",
  ]);
  const older = stateOutcome(
    run,
    parseRemoteState("status=rolled-back-health-check\nsuperseded_by=3\n"),
    "confirm",
  );
  assertEquals(older?.kind, "superseded");
});

Deno.test("stateOutcome(): what the host said last is reported: rolling back, a lost state, a bounded rollback", () => {
  const run = runOf(host);
  const rolling = stateOutcome(
    run,
    { ...parseRemoteState(""), lastStatus: "rolling-back" },
    "confirm",
  );
  assertEquals(rolling?.kind === "unknown" && [rolling.lastStatus, rolling.unguarded], [
    "rolling-back",
    undefined,
  ]);
  assertEquals(/it was rolling back/.test(causeOf(rolling)), true);
  const gone = stateOutcome(
    run,
    parseRemoteState(`status=gone\ncurrent=${run.values.toplevel}\n`),
    "activate",
  );
  assertEquals(gone?.kind === "unknown" && gone.unguarded, true);
  assertEquals(/it runs the new system, never confirmed/.test(causeOf(gone)), true);
  const failed = stateOutcome(
    run,
    parseRemoteState(
      "status=rollback-failed-activation\nactivate_code=4\n" +
        "rollback_error=switch of /nix/store/x ran over its 5 s timeout\n",
    ),
    "activate",
  );
  assertEquals(failed?.kind, "rollback-failed");
  assertEquals(/ran over its 5 s timeout/.test(causeOf(failed)), true);
});
