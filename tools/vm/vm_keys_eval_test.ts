// The VM variant's host key (modules/nixos/profiles/common.nix) in the offline evaluation: every
// host's VM (`deno task vm`) reads its SSH host key, and so its sops-nix age identity, from
// $DEVOPS_VM_KEYS mounted at /mnt/vm-keys, dev-vm keeps its own folder, and the real systems
// keep /etc/ssh. The offline evaluation of tools/testing/offline_eval.ts (the real input flakes
// from ../shared/nix-inputs and the stub nixpkgs). Run: deno test --allow-all tools/vm/vm_keys_eval_test.ts
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { assert, assertEquals } from "../testing/assert.ts";
import {
  evalJson,
  NIX_INPUTS_DIR,
  offlineEvaluator,
  prepareOffline,
} from "../testing/offline_eval.ts";
import { createExampleClone } from "../testing/example_clone.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const stubDir = join(root, "tools", "testing", "nixpkgs_stub");
const inputsDir = NIX_INPUTS_DIR;

/** `nix eval --json` of an attribute of the flake at `flake` with `--apply`, in the 26.05 model. */
async function prepare(dir: string, inputs: string, flake: string) {
  const nix = offlineEvaluator(await prepareOffline(dir, inputs, stubDir), "26.05", flake, flake);
  return (attribute: string, apply: string) => nix.flake(attribute, apply);
}

const json = evalJson;

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
