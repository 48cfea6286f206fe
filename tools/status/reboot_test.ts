// `deno task status` on a systemd test host (systemd in systemd-nspawn, which records
// /run/booted-system at boot as NixOS's stage 2 does): a deployed kernel change needs a reboot
// until the host reboots; the host facts the node exporter reads say the same.
import { assertEquals, assertMatch } from "../testing/assert.ts";
import {
  startSystemdHosts,
  type SystemdHost,
  type SystemdHosts,
} from "../testing/systemd_hosts.ts";
import { hostFacts, statusFleet } from "./_test_fleet.ts";

Deno.test("deno task status: a new kernel needs a reboot until the host reboots (systemd host)", async () => {
  await using fleet = await statusFleet<SystemdHosts>(
    1,
    () => ({ toplevel: { kernel: "6.1", units: { "app.service": "ok" } } }),
    startSystemdHosts,
  );
  const web1 = fleet.hosts.host("web1") as SystemdHost;
  await fleet.deploy("web1");
  // The host boots the deployed system: it is the booted and the current one.
  await web1.reboot();
  const booted = await fleet.status("--json", "web1");
  assertEquals(booted.code, 0, booted.stdout + booted.stderr);
  const first = booted.report!.hosts[0]!;
  assertEquals(first.reboot, { needed: false });
  assertEquals(first.booted, first.system);
  assertEquals(first.failedUnits, { kind: "listed", units: [] });

  await fleet.flake.update({ web1: { toplevel: { marker: "2", kernel: "6.2" } } });
  await fleet.deploy("web1");
  const outcome = await fleet.status("--json", "web1");
  assertEquals(outcome.code, 1, outcome.stdout + outcome.stderr);
  const after = outcome.report!.hosts[0]!;
  assertEquals(after.reboot, { needed: true, parts: ["kernel", "initrd", "kernel-modules"] });
  assertEquals(after.drift, { kind: "in-step" });
  const table = await fleet.status("web1");
  assertMatch(
    table.stdout,
    /^web1 .*yes \(kernel,initrd,kernel-modules\).*reboot needed \(kernel, initrd, kernel-modules\)$/m,
  );
  // The node exporter's metrics, from the same definitions, agree.
  const facts = await hostFacts(web1);
  assertEquals(facts.get("devops_reboot_required"), "1");
  assertEquals(facts.get('devops_reboot_required_part{part="kernel"}'), "1");
  assertEquals(facts.get('devops_reboot_required_part{part="systemd"}'), "0");
  assertEquals(facts.get("devops_system_drift"), "0");

  await web1.reboot();
  const rebooted = await fleet.status("web1");
  assertEquals(rebooted.code, 0, rebooted.stdout + rebooted.stderr);
  assertMatch(rebooted.stdout, /^web1 .* no .*in step, healthy$/m);
});
