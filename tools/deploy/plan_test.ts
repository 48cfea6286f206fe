import { assertEquals, assertThrows } from "../testing/assert.ts";
import { parseFleetFacts } from "../lib/fleet/mod.ts";
import {
  activates,
  type DeployOptions,
  planDeploy,
  selectHosts,
  setsProfile,
  toplevelsApply,
  usesMagicRollback,
} from "./plan.ts";

const facts = parseFleetFacts({
  web1: {
    deployable: true,
    address: "192.0.2.10",
    tags: ["server", "web"],
    system: "x86_64-linux",
  },
  web2: {
    deployable: true,
    address: "192.0.2.11",
    tags: ["server", "web"],
    system: "x86_64-linux",
  },
  db1: {
    deployable: true,
    address: "192.0.2.20",
    port: 2222,
    user: "deploy",
    tags: ["server", "db"],
    buildOn: "remote",
    confirmTimeout: 60,
    healthChecks: ["true"],
    system: "x86_64-linux",
  },
  "dev-vm": { deployable: false, address: "192.0.2.30", tags: ["web"], system: "x86_64-linux" },
  "iso-headless": { deployable: false, address: "192.0.2.40", system: "x86_64-linux" },
});

const options: DeployOptions & { flake: string } = {
  flake: "/repo",
  mode: "switch",
  parallel: 8,
  rollback: true,
  noCheckSigs: false,
  askSudoPassword: false,
};

const none = { names: [], all: false, tags: [] };

Deno.test("selectHosts() keeps named hosts in the order given, without duplicates", () => {
  assertEquals(selectHosts(facts, { ...none, names: ["web2", "web1", "web2"] }), ["web2", "web1"]);
});

Deno.test("selectHosts() --all leaves out hosts that are not deployable", () => {
  assertEquals(selectHosts(facts, { ...none, all: true }), ["db1", "web1", "web2"]);
});

Deno.test("selectHosts() deploys a non-deployable host when it is named", () => {
  assertEquals(selectHosts(facts, { ...none, names: ["dev-vm"] }), ["dev-vm"]);
});

Deno.test("selectHosts() --tag picks deployable hosts with any of the tags", () => {
  assertEquals(selectHosts(facts, { ...none, tags: ["db"] }), ["db1"]);
  assertEquals(selectHosts(facts, { ...none, tags: ["web"] }), ["web1", "web2"]);
  assertEquals(selectHosts(facts, { ...none, tags: ["db", "web"] }), ["db1", "web1", "web2"]);
  assertEquals(selectHosts(facts, { ...none, names: ["dev-vm"], tags: ["db"] }), ["dev-vm", "db1"]);
});

Deno.test("selectHosts() names unknown hosts and lists the known ones", () => {
  assertThrows(
    () => selectHosts(facts, { ...none, names: ["web3"] }),
    'Cannot deploy "web3": no such host; known hosts: db1, dev-vm, iso-headless, web1, web2',
  );
});

Deno.test("selectHosts() refuses an empty selection", () => {
  assertThrows(() => selectHosts(facts, none), "Nothing to deploy");
  assertThrows(
    () => selectHosts(facts, { ...none, tags: ["nope"] }),
    'no deployable host has tag "nope"',
  );
});

Deno.test("planDeploy() fills each host from its facts", () => {
  const plan = planDeploy(facts, { ...none, names: ["db1", "web1"] }, options);
  assertEquals(plan.parallel, 2);
  assertEquals(plan.hosts.map((h) => [h.host, h.address, h.port, h.user, h.buildOn, h.sudo]), [
    ["db1", "192.0.2.20", 2222, "deploy", "remote", "nopasswd"],
    ["web1", "192.0.2.10", 22, "root", "local", "none"],
  ]);
  assertEquals(plan.hosts[0]!.confirmTimeout, 60);
  assertEquals(plan.hosts[0]!.healthChecks, ["true"]);
  assertEquals(plan.hosts[1]!.healthChecks, []);
  assertEquals([plan.hosts[1]!.activationTimeout, plan.hosts[1]!.healthCheckTimeout], [300, 60]);
  assertEquals(
    plan.hosts[1]!.toplevelAttr,
    "nixosConfigurations.web1.config.system.build.toplevel",
  );
});

Deno.test("planDeploy() applies overrides: --target, --build-on, --confirm-timeout, sudo password", () => {
  const plan = planDeploy(facts, { ...none, names: ["db1"] }, {
    ...options,
    target: "10.0.0.5",
    buildOn: "local",
    confirmTimeout: 5,
    askSudoPassword: true,
  });
  const [db1] = plan.hosts;
  assertEquals([db1!.address, db1!.buildOn, db1!.confirmTimeout, db1!.sudo], [
    "10.0.0.5",
    "local",
    5,
    "password",
  ]);
});

Deno.test("planDeploy() refuses --target with more than one host and bad numbers", () => {
  assertThrows(
    () => planDeploy(facts, { ...none, all: true }, { ...options, target: "10.0.0.5" }),
    "--target with 3 hosts",
  );
  assertThrows(
    () => planDeploy(facts, { ...none, all: true }, { ...options, parallel: 0 }),
    "Invalid --parallel",
  );
  assertThrows(
    () => planDeploy(facts, { ...none, names: ["web1"] }, { ...options, target: "a b" }),
    'Invalid --target "a b": not a host name',
  );
  // The one address check of the fleet layer: what install's --target refuses, deploy's does.
  for (const target of ["0.0.0.0", "010.0.0.5", "::", "[10.0.0.5]", "-oProxyCommand=x"]) {
    assertThrows(
      () => planDeploy(facts, { ...none, names: ["web1"] }, { ...options, target }),
      `Invalid --target "${target}"`,
    );
  }
});

Deno.test("modes: which set the profile, activate, and use magic rollback", () => {
  const table = (["switch", "boot", "test", "dry-activate"] as const).map((mode) => {
    const host = planDeploy(facts, { ...none, names: ["web1"] }, { ...options, mode }).hosts[0]!;
    return [mode, setsProfile(mode), activates(mode), usesMagicRollback(host)];
  });
  assertEquals(table, [
    ["switch", true, true, true],
    ["boot", true, false, false],
    ["test", false, true, true],
    ["dry-activate", false, false, false],
  ]);
  const host = planDeploy(facts, { ...none, names: ["web1"] }, { ...options, rollback: false })
    .hosts[0]!;
  assertEquals(usesMagicRollback(host), false);
});

Deno.test("toplevelsApply() asks for each host's drvPath and outPath", () => {
  assertEquals(
    toplevelsApply(["web1", "db1"]),
    'cs: builtins.listToAttrs (map (n: { name = n; value = { drv = cs.${n}.config.system.build.toplevel.drvPath; out = cs.${n}.config.system.build.toplevel.outPath; }; }) [ "web1" "db1" ])',
  );
});
