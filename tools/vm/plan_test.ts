import { assertEquals, assertMatch } from "../testing/assert.ts";
import { hostFactsSchema } from "../lib/fleet/mod.ts";
import {
  BOOTED_CHECK,
  describeVmStep,
  DEV_VM_KEY_FILES,
  PLACEHOLDERS,
  planVm,
  runnerEnv,
  vmKey,
  type VmOptions,
  vmSteps,
} from "./plan.ts";

const facts = hostFactsSchema.parse({
  deployable: true,
  address: "192.0.2.10",
  port: 2200,
  user: "admin",
  healthChecks: ["curl -fsS localhost:9100/metrics"],
  healthCheckTimeout: 20,
  system: "x86_64-linux",
});

const options: VmOptions = {
  flake: "/repo",
  port: 40022,
  bootTimeout: 120,
  connectTimeout: 5,
  sshOptions: ["IdentityFile=/k"],
  keep: false,
};

Deno.test("vmKey() gives dev-vm its repository key (init's new key first) and every other host a throw-away one", () => {
  assertEquals(vmKey("dev-vm", new Set(DEV_VM_KEY_FILES)), {
    kind: "repository",
    privateKey: ".data/dev-vm-keys/ssh_host_ed25519_key",
    publicKey: "configurations/dev-vm/ssh_host_ed25519_key.pub",
  });
  assertEquals(
    vmKey("dev-vm", new Set([DEV_VM_KEY_FILES[1]])).kind === "repository" &&
      vmKey("dev-vm", new Set([DEV_VM_KEY_FILES[1]])),
    {
      kind: "repository",
      privateKey: "configurations/dev-vm/example_ssh_host_ed25519_key",
      publicKey: "configurations/dev-vm/ssh_host_ed25519_key.pub",
    },
  );
  // dev-vm after `init --dev-vm remove`: no key of its own.
  assertEquals(vmKey("dev-vm", new Set()), { kind: "throw-away" });
  // Another host never gets a repository file, whatever exists.
  assertEquals(vmKey("nas1", new Set(DEV_VM_KEY_FILES)), { kind: "throw-away" });
});

Deno.test("planVm() reaches the VM on 127.0.0.1 at the forwarded port as the host's user, never the host's address", () => {
  const plan = planVm("nas1", facts, { ...options, key: { kind: "throw-away" } });
  assertEquals(plan.target, { host: "nas1", address: "127.0.0.1", port: 40022, user: "admin" });
  assertEquals(plan.healthChecks, [BOOTED_CHECK, "curl -fsS localhost:9100/metrics"]);
  assertEquals(plan.installable, '/repo#nixosConfigurations."nas1".config.system.build.vm');
});

Deno.test("runnerEnv() sets the runner's interface: disk and scratch in the run folder, keys shared, SSH forwarded on 127.0.0.1 only, headless", () => {
  const plan = planVm("nas1", facts, { ...options, key: { kind: "throw-away" } });
  assertEquals(runnerEnv(plan, { run: "/tmp/r", vm: "/nix/store/x" }), {
    NIX_DISK_IMAGE: "/tmp/r/disk.qcow2",
    TMPDIR: "/tmp/r/tmp",
    USE_TMPDIR: "1",
    DEVOPS_VM_KEYS: "/tmp/r/keys",
    DEV_VM_KEYS: "/tmp/r/keys",
    QEMU_NET_OPTS: "hostfwd=tcp:127.0.0.1:40022-:22",
    QEMU_OPTS: "-nographic",
  });
});

Deno.test("vmSteps() is build, host key, boot, wait for SSH, each check, power off (keep instead with --keep)", () => {
  const plan = planVm("nas1", facts, { ...options, key: { kind: "throw-away" } });
  const steps = vmSteps(plan, PLACEHOLDERS);
  assertEquals(steps.map((s) => s.kind), [
    "build",
    "host-key",
    "boot",
    "wait-ssh",
    "health-check",
    "health-check",
    "power-off",
  ]);
  const boot = steps[2]!;
  assertEquals(boot.kind === "boot" && boot.argv.slice(3), [
    "<vm>/bin/run-nas1-vm",
    "<run>/console.log",
  ]);
  const wait = steps[3]!;
  // The run's own known_hosts, strict checking: the pin is the key the VM runs with.
  assertMatch(
    wait.kind === "wait-ssh" ? wait.argv.join(" ") : "",
    /UserKnownHostsFile=<run>\/known_hosts/,
  );
  assertMatch(wait.kind === "wait-ssh" ? wait.argv.join(" ") : "", /StrictHostKeyChecking=yes/);
  assertEquals(wait.kind === "wait-ssh" && wait.timeoutSeconds, 120);
  const check = steps[5]!;
  assertEquals(check.kind === "health-check" && check.timeoutSeconds, 30);
  const kept = vmSteps(
    planVm("nas1", facts, { ...options, keep: true, key: { kind: "throw-away" } }),
    PLACEHOLDERS,
  );
  assertEquals(kept.at(-1)!.kind, "keep");
});

Deno.test("describeVmStep() shows the dev-vm copy and the throw-away keygen", () => {
  const dev = planVm("dev-vm", facts, {
    ...options,
    key: vmKey("dev-vm", new Set([DEV_VM_KEY_FILES[1]])),
  });
  assertMatch(describeVmStep(vmSteps(dev, PLACEHOLDERS)[1]!), /example_ssh_host_ed25519_key/);
  const other = planVm("nas1", facts, { ...options, key: { kind: "throw-away" } });
  assertMatch(describeVmStep(vmSteps(other, PLACEHOLDERS)[1]!), /ssh-keygen -q -t ed25519/);
});
