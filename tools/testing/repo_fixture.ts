// A small fleet repository in the documented layout, for tests of the tools that read it.
import type { FixtureTree } from "./temp_repo.ts";

const module = (what: string) => `# ${what}\n{ ... }:\n{\n}\n`;

/** The folders and Nix files of a fleet repository, without index files. */
export function fleetTree(): FixtureTree {
  return {
    "flake.nix": "{\n  outputs = _: { };\n}\n",
    "configurations/web1/default.nix": module("web1"),
    "configurations/web1/deploy.nix": '{ address = "192.0.2.1"; }\n',
    "configurations/web1/disko.nix": "{ disko.devices = { }; }\n",
    "configurations/dev-vm/default.nix": module("dev-vm"),
    "modules/nixos/mixins/mixin-nix.nix": module("nix settings"),
    "modules/nixos/mixins/mixin-openssh.nix": module("openssh"),
    "modules/nixos/profiles/common.nix": module("common profile"),
    "modules/nixos/programs/programs-helix.nix": module("helix"),
    "modules/nixos/services/service-kopia.nix": module("kopia"),
    "modules/nixos/hardware/qemu-guest.nix": module("qemu guest"),
    "modules/nixos/themes/console.nix": module("console theme"),
    "modules/home/.keep": "",
    "modules/shared/nix-registry.nix": module("registry"),
    "overlays/pin-hello.nix": "final: prev: { }\n",
    "shells/nixos/devshell.nix": "{ }\n",
    "shells/plain/shell.nix": "{ }\n",
  };
}
