import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { describePlan, type InstallInput, planInstall, type Step } from "./plan.ts";

function input(overrides: Partial<InstallInput> = {}): InstallInput {
  return {
    host: "nas1",
    address: "10.0.0.5",
    port: 22,
    key: { kind: "file", path: "/keys/nas1" },
    diskKeyPaths: ["/tmp/disk-encryption.key"],
    stage: "ask",
    confirmInstaller: true,
    sshOptions: [],
    connectTimeout: 10,
    waitSeconds: 600,
    installTimeoutSeconds: 14400,
    ...overrides,
  };
}

const kinds = (steps: Step[]) => steps.map((s) => s.kind);

Deno.test("planInstall() checks everything before nixos-anywhere, then waits and checks the host", () => {
  const plan = planInstall(input());
  assertEquals(kinds(plan.steps), [
    "check-key",
    "disk-keys",
    "extra-files",
    "scan-installer",
    "nixos-anywhere",
    "wait-ssh",
    "check-system",
    "check-secrets",
  ]);
  const install = plan.steps.find((s) => s.kind === "nixos-anywhere");
  assert(install?.kind === "nixos-anywhere");
  assertEquals(install.argv, [
    "nixos-anywhere",
    "--flake",
    ".#nas1",
    "--target-host",
    "root@10.0.0.5",
    "--ssh-port",
    "22",
    "--extra-files",
    "$INSTALL_WORK/extra-files",
    "--disk-encryption-keys",
    "/tmp/disk-encryption.key",
    "$INSTALL_WORK/disk-keys/1.key",
  ]);
});

Deno.test("planInstall() passes one --disk-encryption-keys per distinct path, --build-on, --phases and ssh options", () => {
  const plan = planInstall(input({
    diskKeyPaths: ["/tmp/a.key", "/tmp/b.key"],
    buildOn: "remote",
    phases: ["kexec", "disko", "install"],
    sshOptions: ["IdentityFile=/k"],
  }));
  const install = plan.steps.find((s) => s.kind === "nixos-anywhere");
  assert(install?.kind === "nixos-anywhere");
  assertEquals(install.argv.slice(9), [
    "--disk-encryption-keys",
    "/tmp/a.key",
    "$INSTALL_WORK/disk-keys/1.key",
    "--disk-encryption-keys",
    "/tmp/b.key",
    "$INSTALL_WORK/disk-keys/2.key",
    "--build-on",
    "remote",
    "--phases",
    "kexec,disko,install",
    "--ssh-option",
    "IdentityFile=/k",
  ]);
  // Without the reboot phase the machine is not booted: nothing to wait for or check.
  assert(!kinds(plan.steps).includes("wait-ssh"));
});

Deno.test("planInstall() makes a new key, re-keys with host add for a new host and replace-key for a known one", () => {
  const fresh = planInstall(input({ key: { kind: "new", path: "/k/nas1", hostHasKey: false } }));
  assertEquals(kinds(fresh.steps).slice(0, 4), ["new-host-key", "rekey", "stage", "check-key"]);
  const rekey = fresh.steps[1];
  assert(rekey?.kind === "rekey");
  assertEquals(rekey.argv, [
    "deno",
    "task",
    "-q",
    "secrets",
    "host",
    "add",
    "nas1",
    "--key-file",
    "/k/nas1.pub",
    "-y",
  ]);
  const known = planInstall(input({ key: { kind: "new", path: "/k/nas1", hostHasKey: true } }));
  const replace = known.steps[1];
  assert(replace?.kind === "rekey");
  assertEquals(replace.argv[5], "replace-key");
  const newKey = fresh.steps[0];
  assert(newKey?.kind === "new-host-key");
  assertEquals(newKey.argv, [
    "ssh-keygen",
    "-q",
    "-t",
    "ed25519",
    "-N",
    "",
    "-C",
    "root@nas1",
    "-f",
    "/k/nas1",
  ]);
});

Deno.test("planInstall() without a key names the key step; a host without disk keys has no disk-keys step", () => {
  const plan = planInstall(input({ key: { kind: "none" }, diskKeyPaths: [] }));
  assertEquals(kinds(plan.steps).slice(0, 3), ["key-needed", "check-key", "extra-files"]);
  const text = describePlan(plan).join("\n");
  assertStringIncludes(text, "needs --host-key <file> (0600, yours) or --new-host-key");
  assert(!text.includes("--disk-encryption-keys"));
  assertStringIncludes(text, "finally: remove $INSTALL_WORK");
});
