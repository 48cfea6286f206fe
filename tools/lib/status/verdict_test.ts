import { assertEquals, assertThrows } from "../../testing/assert.ts";
import {
  allHealthy,
  formatDuration,
  type HostStatus,
  judgeHost,
  MIN_FREE_BYTES,
  parseStatusOutput,
  verdictLine,
} from "./verdict.ts";

const SYSTEM = "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-web1-1";
const OTHER = "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-nixos-system-web1-2";

/** A status script's answer: the host facts' metrics, status lines and the record. */
function answer(options: {
  metrics?: string[];
  status?: string[];
  record?: string[];
} = {}): string {
  return [
    "--- facts",
    "# HELP devops_system_generation The system profile's current generation.",
    ...(options.metrics ?? [
      "devops_system_generation 3",
      "devops_reboot_required 0",
      'devops_reboot_required_part{part="kernel"} 0',
      "devops_deploy_record_present 1",
      "devops_system_drift 0",
    ]),
    "--- status",
    ...(options.status ?? [
      `current=${SYSTEM}`,
      `booted=${SYSTEM}`,
      "generation_time=1700000000",
      "now=1700000100",
      "uptime=3725",
      "load=0.10 0.20 0.30",
      `free_root=${2 * MIN_FREE_BYTES}`,
      `free_nix=${2 * MIN_FREE_BYTES}`,
      "units=listed",
    ]),
    "--- record",
    ...(options.record ?? [
      "status=confirmed",
      "time=2026-12-06T10:00:00Z",
      "by=alice@laptop",
      "run=abc123",
      `new=${SYSTEM}`,
      "mode=switch",
      "prev_gen=2",
      "new_gen=3",
    ]),
    "",
  ].join("\n");
}

function judge(text: string, evaluated?: Parameters<typeof judgeHost>[2]) {
  return judgeHost("web1", parseStatusOutput(text), evaluated);
}

Deno.test("judgeHost() finds a host running what deploy left in step and healthy", () => {
  const s = judge(answer());
  assertEquals(s.problems, []);
  assertEquals(s.drift, { kind: "in-step" });
  assertEquals(s.reboot, { needed: false });
  assertEquals(s.generation, 3);
  assertEquals(s.generationDate, "2023-11-14T22:13:20.000Z");
  assertEquals(s.uptimeSeconds, 3725);
  assertEquals(s.load, [0.1, 0.2, 0.3]);
  assertEquals(s.record?.by, "alice@laptop");
  assertEquals(s.record?.outcome, { kind: "confirmed" });
  assertEquals([s.record?.prevGen, s.record?.newGen], [2, 3]);
  assertEquals(verdictLine(s), "in step, healthy");
  assertEquals(allHealthy([s]), true);
});

Deno.test("judgeHost() reads drift from the host facts: changed outside deploy", () => {
  const s = judge(answer({
    metrics: ["devops_deploy_record_present 1", "devops_system_drift 1"],
  }));
  assertEquals(s.drift, { kind: "changed-outside-deploy", running: SYSTEM });
  assertEquals(s.problems, ["changed outside deploy"]);
});

Deno.test("judgeHost() with --eval: behind when the repository evaluates to another system", () => {
  assertEquals(judge(answer(), { ok: true, toplevel: OTHER }).drift, {
    kind: "behind",
    evaluated: OTHER,
  });
  assertEquals(judge(answer(), { ok: true, toplevel: SYSTEM }).drift, { kind: "in-step" });
  assertEquals(judge(answer(), { ok: false, why: "nix eval failed: boom" }).drift, {
    kind: "unknown",
    why: "nix eval failed: boom",
  });
  // Switched by hand stays that, whatever the repository evaluates to.
  const byHand = answer({ metrics: ["devops_deploy_record_present 1", "devops_system_drift 1"] });
  assertEquals(judge(byHand, { ok: true, toplevel: SYSTEM }).drift.kind, "changed-outside-deploy");
});

Deno.test("judgeHost() without a deploy record or a system in it: drift unknown, not healthy", () => {
  const none = judge(answer({ metrics: ["devops_deploy_record_present 0"], record: [] }));
  assertEquals(none.drift, { kind: "unknown", why: "no deploy record" });
  assertEquals(none.record, undefined);
  assertEquals(none.problems, ["drift unknown (no deploy record)"]);
  const noSystem = judge(answer({ metrics: ["devops_deploy_record_present 1"] }));
  assertEquals(noSystem.drift.kind, "unknown");
});

Deno.test("judgeHost() names the parts that need a reboot; no booted system: unknown", () => {
  const s = judge(answer({
    metrics: [
      "devops_deploy_record_present 1",
      "devops_system_drift 0",
      "devops_reboot_required 1",
      'devops_reboot_required_part{part="kernel"} 1',
      'devops_reboot_required_part{part="initrd"} 0',
      'devops_reboot_required_part{part="systemd"} 1',
    ],
  }));
  assertEquals(s.reboot, { needed: true, parts: ["kernel", "systemd"] });
  assertEquals(s.problems, ["reboot needed (kernel, systemd)"]);
  const unknown = judge(answer({
    metrics: ["devops_deploy_record_present 1", "devops_system_drift 0"],
  }));
  assertEquals(unknown.reboot, { needed: "unknown" });
  assertEquals(unknown.problems, []);
});

Deno.test("judgeHost() lists failed units, low space and a failed last deploy as problems", () => {
  const s = judge(answer({
    status: [
      `current=${SYSTEM}`,
      "units=listed",
      "failed_unit=a.service",
      "failed_unit=b.service",
      `free_root=${MIN_FREE_BYTES - 1}`,
      `free_nix=${MIN_FREE_BYTES}`,
    ],
    record: ["status=rolled-back-timeout", "run=r1"],
  }));
  assertEquals(s.failedUnits, { kind: "listed", units: ["a.service", "b.service"] });
  assertEquals(s.problems, [
    "last deploy rolled-back-timeout",
    "2 failed units: a.service, b.service",
    "low space on / (1024 MiB free)",
  ]);
  assertEquals(s.record?.outcome, { kind: "rolled-back", why: "timeout" });
});

Deno.test("judgeHost() says when failed units are unknown or there is no systemd", () => {
  assertEquals(judge(answer({ status: ["units=no-systemd"] })).failedUnits, { kind: "no-systemd" });
  const unknown = judge(answer({ status: ["units=unknown"] }));
  assertEquals(unknown.failedUnits, { kind: "unknown" });
  assertEquals(unknown.problems, ["failed units unknown (no answer from systemctl)"]);
});

Deno.test("judgeHost() reads the kopia backup's age from the host facts", () => {
  const base = ["devops_deploy_record_present 1", "devops_system_drift 0"];
  const absent = judge(answer({ metrics: base }));
  assertEquals(absent.backup, { kind: "absent" });
  const never = judge(answer({
    metrics: [...base, 'devops_backup_max_age_seconds{backup="kopia"} 0'],
  }));
  assertEquals(never.backup, { kind: "never" });
  assertEquals(never.problems, ["kopia backup never succeeded"]);
  const age = judge(answer({
    metrics: [
      ...base,
      'devops_backup_max_age_seconds{backup="kopia"} 0',
      'devops_backup_last_success_timestamp_seconds{backup="kopia"} 1699996500',
    ],
  }));
  assertEquals(age.backup, { kind: "age", seconds: 3600 });
  assertEquals(age.problems, []);
});

Deno.test("parseStatusOutput() refuses an answer without its status section", () => {
  assertThrows(() => parseStatusOutput("hello\n"), "no status section");
});

Deno.test("parseStatusOutput() keeps hostile values as data; a failed_unit line is never a key", () => {
  const facts = parseStatusOutput(
    answer({ status: ["units=listed", "failed_unit=x\x1b[2J=y.service", "failed_unit=units=z"] }),
  );
  assertEquals(facts.failedUnits, ["x\x1b[2J=y.service", "units=z"]);
  assertEquals(facts.values.units, "listed");
});

Deno.test("allHealthy() is false when any host is unreachable or has a problem", () => {
  const ok = judge(answer());
  const down: HostStatus = { kind: "unreachable", host: "web2", reason: "timed-out", detail: "x" };
  assertEquals(allHealthy([ok, down]), false);
  assertEquals(verdictLine(down), "unreachable (timed-out): x");
  assertEquals(allHealthy([ok, { ...ok, problems: ["changed outside deploy"] }]), false);
  assertEquals(allHealthy([]), true);
});

Deno.test("formatDuration() shows the two largest units", () => {
  assertEquals(formatDuration(5), "5s");
  assertEquals(formatDuration(125), "2m");
  assertEquals(formatDuration(3725), "1h 2m");
  assertEquals(formatDuration(90000), "1d 1h");
});
