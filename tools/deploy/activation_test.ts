import { assertEquals } from "../testing/assert.ts";
import { builtInCheck } from "./activation.ts";
import type { HostRun } from "./execute.ts";
import type { HostPlan } from "./plan.ts";
import { parseRemoteState } from "./remote.ts";
import { placeholderValues } from "./steps.ts";

const host = { host: "web1", mode: "switch" } as HostPlan;

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
