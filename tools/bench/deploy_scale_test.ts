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
  type RoundFigures,
  summarisePoint,
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
  ]);
  assertEquals([flags.points, flags.delayMs, flags.rounds, flags.parallel, flags.json], [
    [1, 4],
    0,
    2,
    8,
    true,
  ]);
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

function round(wallMs: number, cpuMs: number, rolledBack: string[] = []): RoundFigures {
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
    { target: "CPU per host at 32 within 25% of 4", value: "+0%", met: true },
    { target: "0 spurious rollbacks at 32 hosts --parallel 32", value: "1", met: false },
  ]);
  assertEquals(checkTargets([four]), []);
  const text = formatScale([one, four, many], { delayMs: 25, confirmTimeout: 10 });
  assertMatch(text, /^32 +32 +6000 +5\.00 +500 +1000 +90% /m);
  assertMatch(text, /^4 +deno 250, ssh 125$/m);
  assertMatch(text, /MISSED +32 hosts ≤ 4× one host: 5\.00×/);
  assertMatch(text, /^1 +1.5c 0t +0c 15t$/m);
});
