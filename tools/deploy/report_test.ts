import { assertEquals } from "../testing/assert.ts";
import { durationText, generationText, type HostReport, reportTable } from "./report.ts";

const base: HostReport = {
  host: "web1",
  address: "a",
  result: "ok",
  rolledBack: false,
  durationMs: 1234,
};

Deno.test("generationText() shows previous → new, and where a rollback left the host", () => {
  assertEquals(generationText(base), "–");
  assertEquals(generationText({ ...base, newGeneration: 1 }), "– → 1");
  assertEquals(
    generationText({ ...base, previousGeneration: 2, newGeneration: 3, activeGeneration: 3 }),
    "2 → 3",
  );
  assertEquals(
    generationText({ ...base, previousGeneration: 2, newGeneration: 3, activeGeneration: 2 }),
    "2 → 3 (now 2)",
  );
  assertEquals(generationText({ ...base, previousGeneration: 2, newGeneration: 2 }), "2");
});

Deno.test("durationText() is short", () => {
  assertEquals(durationText(1234), "1.2s");
  assertEquals(durationText(123_000), "2m03s");
});

Deno.test("reportTable() has one row per host with result, duration and rollback", () => {
  const table = reportTable({
    mode: "switch",
    ok: false,
    hosts: [
      {
        ...base,
        previousGeneration: 1,
        newGeneration: 2,
        activeGeneration: 2,
        status: "confirmed",
      },
      {
        ...base,
        host: "db1",
        result: "failed",
        failedStep: "confirm",
        error: "Not confirmed",
        previousGeneration: 1,
        newGeneration: 2,
        activeGeneration: 1,
        rolledBack: true,
      },
    ],
  });
  assertEquals(table.split("\n"), [
    "host  generation     duration  rolled back  result",
    "web1  1 → 2          1.2s      no           ok",
    "db1   1 → 2 (now 1)  1.2s      yes          failed at confirm: Not confirmed",
  ]);
});

Deno.test("reportTable() says what the host said last instead of 'unreachable' when it answered", () => {
  const table = (h: Partial<HostReport>) =>
    reportTable({ mode: "switch", ok: false, hosts: [{ ...base, result: "failed", ...h }] });
  assertEquals(table({ rolledBack: "expected" }).includes("expected (unreachable)"), true);
  const rolling = table({
    rolledBack: "expected",
    outcome: { kind: "unknown", step: "confirm", lastStatus: "rolling-back", cause: "x" },
  });
  assertEquals(rolling.includes("expected (last seen: rolling-back)"), true);
});
