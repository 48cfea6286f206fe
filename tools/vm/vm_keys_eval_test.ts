// The VM variant's host key (modules/nixos/profiles/common.nix) in the offline evaluation: every
// host's VM (`deno task vm`) reads its SSH host key, and so its sops-nix age identity, from
// $DEVOPS_VM_KEYS mounted at /mnt/vm-keys, dev-vm keeps its own folder, and the real systems
// keep /etc/ssh. Same offline set-up as tools/nix_passwords_eval_test.ts (the real input flakes
// from ../shared/nix-inputs and the stub nixpkgs). Run: deno test --allow-all tools/vm/vm_keys_eval_test.ts
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { assert, assertEquals } from "../testing/assert.ts";
import { type ProgramResult, runProgram, runProgramOk } from "../testing/run.ts";
import { createExampleClone } from "../testing/example_clone.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const stubDir = join(root, "tools", "testing", "nixpkgs_stub");
/** ../shared/nix-inputs beside the checkout (or beside the folder of worktrees). */
const inputsDir = [
  resolve(root, "..", "shared", "nix-inputs"),
  resolve(root, "..", "..", "shared", "nix-inputs"),
].find((dir) => {
  try {
    return Deno.statSync(join(dir, "MANIFEST.tsv")).isFile;
  } catch {
    return false;
  }
});

const snapshots = ["flake-parts", "disko", "sops-nix", "devshell", "nixos-hardware"];

async function unpack(tarball: string, into: string): Promise<string> {
  await Deno.mkdir(into, { recursive: true });
  await runProgramOk(["tar", "-xzf", tarball, "-C", into]);
  const entries: string[] = [];
  for await (const entry of Deno.readDir(into)) entries.push(entry.name);
  assert(entries.length === 1 && entries[0] !== undefined, `${tarball}: not one top folder`);
  return join(into, entries[0]);
}

/**
 * `nix eval --json` of an attribute of the flake at `flake` with `--apply`, against the
 * snapshots and the stub.
 */
async function prepare(dir: string, inputs: string, flake: string) {
  const overrides: string[] = [];
  for (const name of snapshots) {
    const path = await unpack(join(inputs, `${name}.tar.gz`), join(dir, name));
    await Deno.remove(join(path, "flake.lock")).catch(() => {});
    overrides.push("--override-input", name, `path:${path}`);
  }
  const lib = await unpack(join(inputs, "nixpkgs.lib.tar.gz"), join(dir, "nixpkgs.lib"));
  const nixpkgs = join(dir, "nixpkgs");
  await runProgramOk(["cp", "-r", stubDir, nixpkgs]);
  await runProgramOk(["cp", "-r", join(lib, "lib"), join(nixpkgs, "lib")]);
  overrides.push("--override-input", "nixpkgs", `path:${nixpkgs}`);
  overrides.push("--override-input", "nixpkgs-unstable", `path:${nixpkgs}`);
  return (attribute: string, apply: string): Promise<ProgramResult> =>
    runProgram([
      "nix",
      "eval",
      "--json",
      "--no-eval-cache",
      "--no-write-lock-file",
      ...overrides,
      `${flake}#${attribute}`,
      "--apply",
      apply,
    ], { cwd: flake });
}

function json<T>(result: ProgramResult, what: string): T {
  assert(result.code === 0, `Cannot evaluate ${what}:\n${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

interface Keys {
  hostKeys: string[];
  sshKeyPaths: string[];
  shared: Record<string, { source: string; target: string }>;
}

const keysOf = `c: {
  hostKeys = map (k: k.path) c.services.openssh.hostKeys;
  sshKeyPaths = c.sops.age.sshKeyPaths;
  shared = builtins.mapAttrs (_: d: { inherit (d) source target; }) (c.virtualisation.sharedDirectories or { });
}`;

if (inputsDir === undefined) {
  Deno.test({
    name: "nix eval (VM keys): skipped, ../shared/nix-inputs is absent",
    ignore: true,
    fn() {},
  });
} else {
  Deno.test("nix eval: each host's VM runs with the key in $DEVOPS_VM_KEYS, the real systems keep theirs", async () => {
    const dir = await Deno.makeTempDir({ prefix: "nix-eval-vm-keys-" });
    await using fleet = await createExampleClone();
    try {
      const evaluate = await prepare(dir, inputsDir, fleet.dir);
      const vmKey = "/mnt/vm-keys/ssh_host_ed25519_key";
      for (const host of ["nas1", "desk1"]) {
        const vm = json<Keys>(
          await evaluate(`nixosConfigurations.${host}.config.virtualisation.vmVariant`, keysOf),
          `${host}'s VM`,
        );
        assertEquals(vm.hostKeys, [vmKey], host);
        assertEquals(vm.sshKeyPaths, [vmKey], host);
        assertEquals(vm.shared["vm-keys"], {
          source: '"${DEVOPS_VM_KEYS:-$TMPDIR/xchg}"',
          target: "/mnt/vm-keys",
        });
        const real = json<Keys>(
          await evaluate(`nixosConfigurations.${host}.config`, keysOf),
          host,
        );
        assertEquals(real.hostKeys, ["/etc/ssh/ssh_host_ed25519_key"], host);
        assertEquals(real.sshKeyPaths, ["/etc/ssh/ssh_host_ed25519_key"], host);
      }
      // dev-vm's own folder wins (its value over the profile's); both folders are mounted.
      const dev = json<Keys>(
        await evaluate("nixosConfigurations.dev-vm.config.virtualisation.vmVariant", keysOf),
        "dev-vm's VM",
      );
      assertEquals(dev.hostKeys, ["/mnt/dev-vm-keys/ssh_host_ed25519_key"]);
      assertEquals(dev.sshKeyPaths, ["/mnt/dev-vm-keys/ssh_host_ed25519_key"]);
      assert(dev.shared["host-keys"] !== undefined && dev.shared["vm-keys"] !== undefined);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
