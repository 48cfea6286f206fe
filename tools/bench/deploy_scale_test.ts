import { assertEquals, assertMatch, assertThrows } from "../testing/assert.ts";
import {
  attributeConnection,
  checkTargets,
  formatScale,
  outcomes,
  parseProgressLine,
  parseScaleFlags,
  parseTimeOutput,
  phaseAt,
  phaseBreakdown,
  type PhaseEvent,
  reportSchema,
  type RoundFigures,
  roundsSteps,
  type ScaleReport,
  stepBreakdown,
  summariseOverhead,
  summarisePoint,
  whereTimeGoes,
} from "./deploy_scale.ts";

Deno.test("parseScaleFlags() gives the issue's points and the modelled network by default", () => {
  assertEquals(parseScaleFlags([]), {
    points: [1, 4, 16, 32],
    delayMs: 25,
    rounds: 3,
    warmup: 1,
    confirmTimeout: 10,
    parallel: undefined,
    deployTimeout: 600,
    overhead: true,
    json: false,
    help: false,
  });
  const flags = parseScaleFlags([
    "--hosts",
    "4, 1,4",
    "--delay-ms",
    "0",
    "--rounds",
    "2",
    "--parallel",
    "8",
    "--json",
    "--no-overhead",
  ]);
  assertEquals(
    [flags.points, flags.delayMs, flags.rounds, flags.parallel, flags.json, flags.overhead],
    [[1, 4], 0, 2, 8, true, false],
  );
});

Deno.test("parseScaleFlags() names the flag and the value it refuses", () => {
  assertThrows(() => parseScaleFlags(["--hosts", "1,x"]), 'Invalid --hosts "x"');
  assertThrows(() => parseScaleFlags(["--hosts", "0"]), 'Invalid --hosts "0"');
  assertThrows(() => parseScaleFlags(["--hosts", "500"]), "at most 200 test hosts");
  assertThrows(() => parseScaleFlags(["--rounds", "0"]), 'Invalid --rounds "0"');
  assertThrows(() => parseScaleFlags(["--delay-ms=-5"]), 'Invalid --delay-ms "-5"');
  assertThrows(() => parseScaleFlags(["--confirm-timeout", "1.5"]), "--confirm-timeout");
  assertThrows(() => parseScaleFlags(["--nope"]), "--nope");
  assertThrows(() => parseScaleFlags(["32"]), 'Unexpected argument "32"');
});

Deno.test("parseProgressLine() reads deploy's plain progress lines of known hosts only", () => {
  const hosts = new Set(["scale1", "scale12"]);
  assertEquals(parseProgressLine("scale1   copying", hosts), { host: "scale1", phase: "copying" });
  assertEquals(parseProgressLine("scale12  activating: switch", hosts), {
    host: "scale12",
    phase: "activating",
  });
  assertEquals(parseProgressLine("scale1   failed: connect: ssh exited 255", hosts), {
    host: "scale1",
    phase: "failed",
  });
  assertEquals(
    parseProgressLine("scale1: closure diff /nix/store/a → /nix/store/b", hosts),
    undefined,
  );
  assertEquals(parseProgressLine("other    copying", hosts), undefined);
  assertEquals(parseProgressLine("scale1   copyingfast", hosts), undefined);
  assertEquals(parseProgressLine('{"ok": true}', hosts), undefined);
});

const EVENTS: PhaseEvent[] = [
  { atMs: 100, host: "a", phase: "building" },
  { atMs: 100, host: "b", phase: "building" },
  { atMs: 300, host: "a", phase: "copying" },
  { atMs: 300, host: "b", phase: "waiting" },
  { atMs: 700, host: "a", phase: "ok" },
  { atMs: 900, host: "b", phase: "copying" },
  { atMs: 1000, host: "b", phase: "recovering" },
  { atMs: 1500, host: "b", phase: "ok" },
];

Deno.test("phaseBreakdown() times each host's phases until its next line", () => {
  const breakdown = phaseBreakdown(EVENTS, 1600);
  assertEquals(breakdown.startupMs, 100);
  assertEquals(breakdown.finishMs, 100);
  assertEquals(breakdown.medianMs, {
    waiting: 300,
    building: 200,
    copying: 250,
    recovering: 250,
  });
  assertEquals(breakdown.maxMs, { waiting: 600, building: 200, copying: 400, recovering: 500 });
  assertEquals(phaseBreakdown([], 50), { startupMs: 50, finishMs: 0, medianMs: {}, maxMs: {} });
});

Deno.test("attributeConnection() puts each turn in the host's phase when it happened", () => {
  const hostA = EVENTS.filter((e) => e.host === "a");
  assertEquals(phaseAt(hostA, 50), "startup");
  assertEquals(phaseAt(hostA, 300), "copying");
  assertEquals(
    attributeConnection(hostA, {
      openedAtMs: 150,
      closedAtMs: 800.4,
      bytesToTarget: 10,
      bytesFromTarget: 20,
      turnTimesMs: [160, 310, 320, 750],
    }),
    {
      openedIn: "building",
      durationMs: 650,
      bytesToTarget: 10,
      bytesFromTarget: 20,
      turns: 4,
      turnsByPhase: { building: 1, copying: 2, ok: 1 },
    },
  );
});

Deno.test("parseTimeOutput() reads GNU time's wall, user and system seconds", () => {
  assertEquals(parseTimeOutput("3.21 0.50 0.12\n"), { wallMs: 3210, userMs: 500, sysMs: 120 });
  assertEquals(parseTimeOutput("Command exited with non-zero status 1\n1.00 0.25 0.00\n"), {
    wallMs: 1000,
    userMs: 250,
    sysMs: 0,
  });
  assertThrows(() => parseTimeOutput("Command terminated by signal 9\n"), "/usr/bin/time");
});

Deno.test("outcomes() counts every rollback of a healthy host as spurious", () => {
  const host = { result: "ok", rolledBack: false as const, durationMs: 1 };
  assertEquals(
    outcomes({
      ok: false,
      hosts: [
        { ...host, host: "a", status: "confirmed" },
        {
          ...host,
          host: "b",
          result: "failed",
          failedStep: "confirm",
          status: "rolled-back-timeout",
          rolledBack: true,
        },
        { ...host, host: "c", result: "failed", failedStep: "connect", error: "refused" },
      ],
    }),
    { ok: 1, rolledBack: ["b"], failed: ["c: connect: refused"] },
  );
});

function round(
  wallMs: number,
  cpuMs: number,
  rolledBack: string[] = [],
  report?: ScaleReport,
): RoundFigures {
  const connection = {
    openedIn: "building",
    durationMs: 1,
    bytesToTarget: 1,
    bytesFromTarget: 1,
    turns: 10,
    turnsByPhase: { copying: 10 },
  };
  return {
    wallMs,
    cpuMs,
    daemonCpuMs: 0,
    cpuByProgramMs: { deno: cpuMs / 2, ssh: cpuMs / 4 },
    targetsCpuMs: cpuMs * 2,
    machineBusy: 0.9,
    breakdown: phaseBreakdown(EVENTS, wallMs),
    ...(report && stepBreakdown(report) ? { steps: stepBreakdown(report)! } : {}),
    outcomes: { ok: 2 - rolledBack.length, rolledBack, failed: [] },
    connections: { a: [connection, connection], b: [connection] },
  };
}

Deno.test("summarisePoint() and checkTargets() judge the issue's targets from medians", () => {
  const one = summarisePoint(1, 1, [round(1000, 500), round(1200, 700), round(5000, 900)]);
  assertEquals([one.wallMs, one.cpuPerHostMs, one.connectionsPerHost, one.turnsPerHost], [
    1200,
    700,
    3,
    30,
  ]);
  const four = summarisePoint(4, 4, [round(1400, 2000)]);
  const many = summarisePoint(32, 32, [round(6000, 16000, ["b"])]);
  assertEquals(checkTargets([one, four, many]), [
    { target: "4 hosts ≤ 1.5× one host", value: "1.17×", met: true },
    { target: "32 hosts ≤ 4× one host", value: "5.00×", met: false },
    { target: "CPU per host at 32 ≤ 4's + 25% (does not grow)", value: "+0%", met: true },
    { target: "0 spurious rollbacks at 32 hosts --parallel 32", value: "1", met: false },
  ]);
  assertEquals(checkTargets([four]), []);
  // CPU per host that falls with the fleet meets the target; one that grows by more than 25% not.
  const cpu = (perHost: number) =>
    checkTargets([four, summarisePoint(32, 32, [round(6000, perHost * 32)])])
      .find((c) => c.target.startsWith("CPU"));
  assertEquals([cpu(300)?.value, cpu(300)?.met], ["-40%", true]);
  assertEquals([cpu(650)?.value, cpu(650)?.met], ["+30%", false]);
  assertEquals([cpu(625)?.value, cpu(625)?.met], ["+25%", true]);
  const text = formatScale([one, four, many], { delayMs: 25, confirmTimeout: 10 });
  assertMatch(text, /^32 +32 +6000 +5\.00 +500 +1000 +90% /m);
  assertMatch(text, /^4 +deno 250, ssh 125$/m);
  assertMatch(text, /MISS +32 hosts ≤ 4× one host: 5\.00×/);
  assertMatch(text, /PASS +4 hosts ≤ 1\.5× one host: 1\.17×/);
  assertMatch(text, /^1 +1.5c 0t +0c 15t$/m);
});

/** A host of a report, healthy, with these step timings (ms since the deploy started). */
function reportHost(host: string, steps?: ScaleReport["hosts"][number]["steps"]) {
  return {
    host,
    result: "ok",
    status: "confirmed",
    rolledBack: false as const,
    durationMs: 1,
    ...(steps ? { steps } : {}),
  };
}

/** Two hosts: b waited 300 ms for a copy slot and 500 ms for its confirmation's slot. */
const TIMED_REPORT: ScaleReport = {
  ok: true,
  hosts: [
    reportHost("a", [
      { step: "open-connection", startMs: 10, endMs: 400 },
      { step: "copy", queuedMs: 500, startMs: 500, endMs: 900 },
      { step: "diff", startMs: 900, endMs: 1000 },
      { step: "activate", queuedMs: 1000, startMs: 1000, endMs: 1300 },
      { step: "confirm", queuedMs: 1300, startMs: 1400, endMs: 2000 },
    ]),
    reportHost("b", [
      { step: "open-connection", startMs: 20, endMs: 420 },
      { step: "copy", queuedMs: 500, startMs: 800, endMs: 1400 },
      { step: "diff", startMs: 1400, endMs: 1500 },
      { step: "activate", queuedMs: 1500, startMs: 1500, endMs: 2000 },
      { step: "confirm", queuedMs: 2000, startMs: 2500, endMs: 3000 },
    ]),
  ],
};

Deno.test("reportSchema reads a report with step timings and one from before them", () => {
  const parsed = reportSchema.parse({ ...TIMED_REPORT, mode: "switch", extra: 1 });
  assertEquals(parsed.hosts[1]!.steps![1], {
    step: "copy",
    queuedMs: 500,
    startMs: 800,
    endMs: 1400,
  });
  const older = reportSchema.parse({ ok: true, hosts: [reportHost("a")] });
  assertEquals(older.hosts[0]!.steps, undefined);
  assertEquals(stepBreakdown(older), undefined);
  assertThrows(
    () =>
      reportSchema.parse({
        ok: true,
        hosts: [{ ...reportHost("a"), steps: [{ step: "copy", startMs: "soon", endMs: 1 }] }],
      }),
    "startMs",
  );
});

Deno.test("stepBreakdown() gives each step's time, its wait for a slot and the confirm delay", () => {
  assertEquals(stepBreakdown(TIMED_REPORT), {
    // In the order they first started.
    order: ["open-connection", "copy", "diff", "activate", "confirm"],
    durations: {
      "open-connection": { medianMs: 395, maxMs: 400 },
      copy: { medianMs: 500, maxMs: 600 },
      diff: { medianMs: 100, maxMs: 100 },
      activate: { medianMs: 400, maxMs: 500 },
      confirm: { medianMs: 550, maxMs: 600 },
    },
    // Only scheduled steps (with queuedMs) have a wait; a step that got its slot at once waits 0.
    waits: {
      copy: { medianMs: 150, maxMs: 300 },
      activate: { medianMs: 0, maxMs: 0 },
      confirm: { medianMs: 300, maxMs: 500 },
    },
    confirmDelay: { medianMs: 300, maxMs: 500 },
  });
});

Deno.test("stepBreakdown() sums a step kind run twice by one host and skips hosts without timings", () => {
  const breakdown = stepBreakdown({
    ok: false,
    hosts: [
      reportHost("a", [
        { step: "health-check", startMs: 0, endMs: 100 },
        { step: "health-check", startMs: 100, endMs: 350 },
      ]),
      reportHost("b"),
    ],
  });
  assertEquals(breakdown, {
    order: ["health-check"],
    durations: { "health-check": { medianMs: 350, maxMs: 350 } },
    waits: {},
  });
});

Deno.test("roundsSteps() takes the median over rounds; whereTimeGoes() names the longest steps and waits", () => {
  const later: ScaleReport = {
    ok: true,
    hosts: TIMED_REPORT.hosts.map((h) => ({
      ...h,
      steps: h.steps!.map((s) => ({ ...s, endMs: s.endMs + 100 })),
    })),
  };
  const steps = roundsSteps([
    round(3000, 100, [], TIMED_REPORT),
    round(3100, 100, [], later),
    round(3200, 100),
  ]);
  assertEquals(steps?.rounds, 2);
  assertEquals(steps?.durations.copy, { medianMs: 550, maxMs: 650 });
  assertEquals(steps?.confirmDelay, { medianMs: 250, maxMs: 450 });
  assertEquals(roundsSteps([round(3000, 100)]), undefined);
  const point = summarisePoint(32, 32, [round(3000, 100, [], TIMED_REPORT)]);
  assertEquals(
    whereTimeGoes(point),
    "32 hosts (median host, ms): steps confirm 550, copy 500, activate 400; " +
      "waits for a slot confirm 300, copy 150; confirm starts 300/500 ms after the activation",
  );
  // No step timings: the phases from the progress lines.
  assertMatch(
    whereTimeGoes(summarisePoint(4, 4, [round(1600, 100)])),
    /^4 hosts .*phases from the progress lines\): startup 100, waiting 300, copying 250, /,
  );
});

Deno.test("summariseOverhead() pairs the rounds; checkTargets() and formatScale() judge it", () => {
  const overhead = summariseOverhead("scale1", [round(1100, 500), round(3000, 500)], [
    { wallMs: 1000, stepsMs: { build: 200, copy: 300, "diff+activate+units": 500 } },
    { wallMs: 2000, stepsMs: { build: 400, copy: 600, "diff+activate+units": 1000 } },
  ]);
  // Ratios 1.10 and 1.50: median 1.30, though the medians' ratio would be 2050/1500.
  assertEquals(
    [overhead.toolMs, overhead.byHandMs, Number(overhead.overhead.toFixed(2))],
    [2050, 1500, 0.3],
  );
  // Just over the target shows its decimal: "+15.4%", not a "+15%" that reads as met.
  const justOver = summariseOverhead("scale1", [round(1154, 500)], [{ wallMs: 1000, stepsMs: {} }]);
  assertEquals(checkTargets([], justOver)[0]?.value, "+15.4%");
  assertEquals(checkTargets([], justOver)[0]?.met, false);
  assertEquals(overhead.byHandStepsMs, { build: 300, copy: 450, "diff+activate+units": 750 });
  const one = summarisePoint(1, 1, [round(2000, 500, [], TIMED_REPORT)]);
  assertEquals(checkTargets([one], overhead), [{
    target: "overhead ≤ 15% without magic rollback (vs the same steps by hand)",
    value: "+30.0%",
    met: false,
  }]);
  const text = formatScale([one], { delayMs: 25, confirmTimeout: 10 }, overhead);
  assertMatch(
    text,
    /^ {2}by hand +1500 ms {2}\(build 300, copy 450, diff\+activate\+units 750\)$/m,
  );
  assertMatch(text, /deploy scale1 --no-rollback +2050 ms {2}\(deployer cpu 500 ms; startup 100, /);
  assertMatch(text, /overhead without magic rollback: \+30\.0% \(median/);
  assertMatch(text, /with magic rollback \(the 1-host point, 2000 ms\): \+33%/);
  assertMatch(text, /MISS +overhead ≤ 15% without magic rollback .*: \+30\.0%/);
  // The report's step timings, per step and per wait for a slot.
  assertMatch(text, /^hosts +open-connection +copy +diff +activate +confirm +confirm delay$/m);
  assertMatch(text, /^1 +395\/400 +500\/600 +100\/100 +400\/500 +550\/600 +300\/500$/m);
  assertMatch(text, /^1 +150\/300 +0\/0 +300\/500$/m);
});

Deno.test("formatScale() says where the time goes at a point that missed its target", () => {
  const one = summarisePoint(1, 1, [round(1000, 500, [], TIMED_REPORT)]);
  const many = summarisePoint(32, 32, [round(9000, 16000, ["b"], TIMED_REPORT)]);
  const text = formatScale([one, many], { delayMs: 25, confirmTimeout: 10 });
  assertMatch(text, /where the time goes where a target was missed:\n {2}32 hosts \(median host/);
  assertEquals(text.includes("  1 hosts (median host"), false);
  const older = formatScale([summarisePoint(1, 1, [round(1000, 500)])], {
    delayMs: 25,
    confirmTimeout: 10,
  });
  assertMatch(older, /the deploy's report has no step timings/);
});
