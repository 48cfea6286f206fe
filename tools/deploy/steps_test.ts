import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import type { SshContext } from "../lib/fleet/mod.ts";
import type { HostPlan } from "./plan.ts";
import { buildSteps, describeStep, hostSteps, placeholderValues } from "./steps.ts";

const host: HostPlan = {
  host: "web1",
  address: "192.0.2.10",
  port: 22,
  user: "root",
  buildOn: "local",
  mode: "switch",
  confirmTimeout: 30,
  activationTimeout: 300,
  healthCheckTimeout: 60,
  healthChecks: ["-not-an-option", "true"],
  rollback: true,
  sudo: "none",
  toplevelAttr: "nixosConfigurations.web1.config.system.build.toplevel",
};
const ssh: SshContext = {
  knownHostsFile: "/t/known_hosts",
  controlDir: "/t",
  extraOptions: [],
  connectTimeout: 10,
};

Deno.test("hostSteps() lists a switch in order; every step but the transfer has a timeout", () => {
  const steps = hostSteps(host, ssh, placeholderValues(host), { noCheckSigs: false });
  // The built-in check runs inside the activation's session: no step of its own.
  assertEquals(steps.map((s) => s.id), [
    "open-connection",
    "copy",
    "diff",
    "activate",
    "health-check",
    "health-check",
    "confirm",
    "close-connection",
  ]);
  for (const step of steps) {
    if (step.id !== "copy") assert(step.timeoutSeconds !== undefined, `${step.id} has a bound`);
  }
  assertEquals(steps.filter((s) => s.changes !== "").map((s) => s.id), [
    "copy",
    "activate",
    "confirm",
  ]);
  // A health check is an argument of the remote command after `--`, bounded on the target:
  // never an ssh option. It shares the host's connection; only the confirmation opens a new one.
  const check = steps.find((s) => s.check === "-not-an-option")!;
  assertEquals(check.argv.slice(-3, -1), ["--", "root@192.0.2.10"]);
  assert(check.argv.at(-1)!.startsWith("sh -c "), check.argv.at(-1));
  assert(check.argv.at(-1)!.endsWith(" devops-deploy 60 -not-an-option"), check.argv.at(-1));
  assertEquals(check.timeoutSeconds, 60 + 10);
  assertStringIncludes(check.argv.join(" "), "ControlPath=/t/web1.sock");
  assertEquals(
    steps.filter((s) => s.argv.join(" ").includes("ControlPath=none")).map((s) => s.id),
    ["confirm"],
  );
  // The activation's bound: the launcher's wait (activation, the supervisor's two bounded
  // systemctl calls, the rollback's two bounded activations, confirm window and 30 s) plus 30 s.
  assertEquals(
    steps.find((s) => s.id === "activate")!.timeoutSeconds,
    300 + 2 * 60 + 2 * 300 + 30 + 30 + 30,
  );
});

Deno.test("hostSteps() runs the built-in check as a step only when the activation brought no result of it", () => {
  const values = { ...placeholderValues(host), failedBefore: ["old.service"] };
  const pending = hostSteps(host, ssh, { ...values, unitsCheckPending: true }, {
    noCheckSigs: false,
  });
  const check = pending.find((s) => s.id === "check-units")!;
  assertEquals(pending.indexOf(check), pending.findIndex((s) => s.id === "activate") + 1);
  // Bounded on the target like a health check (HEALTH_CHECK_SCRIPT), with the deployer's
  // bound as the fallback.
  assertEquals([check.timeoutSeconds, check.changes], [60 + 10, ""]);
  assert(check.argv.at(-1)!.startsWith("sh -c "), check.argv.at(-1));
  assertStringIncludes(check.argv.at(-1)!, "exec timeout -k 3");
  assertStringIncludes(check.argv.at(-1)!, " devops-deploy old.service'");
  assertStringIncludes(check.argv.join(" "), "ControlPath=/t/web1.sock");
  const test = hostSteps({ ...host, mode: "test" }, ssh, values, { noCheckSigs: false });
  assert(!test.some((s) => s.id === "check-units"));
});

Deno.test("hostSteps() has no confirmation or unit check for boot, a dry activation for dry-activate", () => {
  const boot = hostSteps(
    { ...host, mode: "boot", healthChecks: [] },
    ssh,
    placeholderValues(host),
    {
      noCheckSigs: false,
    },
  );
  assertEquals(boot.map((s) => s.id), [
    "open-connection",
    "copy",
    "diff",
    "activate",
    "close-connection",
  ]);
  const dry = hostSteps({ ...host, mode: "dry-activate" }, ssh, placeholderValues(host), {
    noCheckSigs: false,
  });
  assertEquals(dry.map((s) => s.id), [
    "open-connection",
    "copy",
    "diff",
    "dry-activate",
    "close-connection",
  ]);
  const remote = hostSteps(
    { ...host, buildOn: "remote" },
    { knownHostsFile: "/t/known_hosts", extraOptions: [], connectTimeout: 10 },
    placeholderValues(host),
    {
      noCheckSigs: true,
    },
  );
  assertEquals(remote.slice(0, 2).map((s) => s.id), ["copy-derivation", "build-on-target"]);
});

Deno.test("describeStep() shows remote scripts by name, their text only when asked", () => {
  const activate = hostSteps(host, ssh, placeholderValues(host), { noCheckSigs: false })
    .find((s) => s.id === "activate")!;
  const short = describeStep(activate);
  assertStringIncludes(short, "<LAUNCHER_SCRIPT>");
  assertStringIncludes(short, "[timeout 1110s]");
  assertStringIncludes(short, "[changes: takes the host's deploy lock");
  assertStringIncludes(describeStep(activate, true), "flock -n 9");
  assertEquals(
    buildSteps({
      flake: "/r",
      hosts: [host, { ...host, host: "web2" }],
      parallel: 2,
      maxActivations: 2,
    }).map((s) => s.id),
    ["eval", "build"],
  );
});

Deno.test("hostSteps(): each step says which connection it uses, and its ssh options agree", () => {
  const steps = hostSteps(host, ssh, placeholderValues(host), { noCheckSigs: false });
  assertEquals(steps.map((s) => [s.id, s.connection]), [
    ["open-connection", undefined],
    ["copy", "shared"],
    ["diff", "shared"],
    ["activate", "shared"],
    ["health-check", "shared"],
    ["health-check", "shared"],
    // The confirmation's own connection proves that the new system accepts SSH.
    ["confirm", "new"],
    ["close-connection", "shared"],
  ]);
  for (const step of steps.filter((s) => s.connection !== undefined)) {
    const words = step.argv[0] === "ssh" ? step.argv : (step.env?.NIX_SSHOPTS ?? "").split(" ");
    const path = step.connection === "shared" ? "ControlPath=/t/web1.sock" : "ControlPath=none";
    assert(words.includes(path), `${step.id}: ${path}`);
  }
});
