# Development shell of the fleet (`nix develop`): the chores' tools on PATH and
# a menu of the `deno task` chores; installs the pre-commit hook on entry.
{ pkgs, ... }:
let
  # Commands are named fleet-<task> so that none shadows a system command
  # (`install` would).
  chore = task: help: {
    name = "fleet-${task}";
    category = "chores";
    help = "deno task ${task}: ${help}";
    command = ''deno task ${task} "$@"'';
  };
in
{
  devshell.name = "devops-at-home";

  devshell.packages = [
    pkgs.age
    pkgs.deno
    pkgs.git
    # Hashes login passwords for `deno task secrets password` (Debian: whois).
    pkgs.mkpasswd
    pkgs.nixfmt
    pkgs.nixos-anywhere
    # `nixos-rebuild build-vm` (configurations/dev-vm/README.md). On 26.05 the one
    # nixos-rebuild is the Python rewrite, pkgs.nixos-rebuild-ng, whose program is
    # named nixos-rebuild-ng unless withNgSuffix is false; NixOS builds its own
    # nixos-rebuild the same way (nixos/modules/installer/tools/tools.nix).
    (pkgs.nixos-rebuild-ng.override { withNgSuffix = false; })
    pkgs.pre-commit
    pkgs.sops
    pkgs.ssh-to-age
  ];

  # One entry per user-facing `deno task` (tools/tasks_test.ts keeps the two in step).
  commands = [
    (chore "index" "regenerate the index files from the folder layout")
    (chore "rekey" "make .sops.yaml and every secret match the admins and hosts")
    (chore "deploy" "build, copy and activate hosts, rolling back unconfirmed ones")
    (chore "status" "what each host runs: in step, reboot needed, failed units, free space")
    (chore "vm" "boot a host's configuration as a local VM and run its health checks")
    (chore "secrets" "manage admin and host keys, show who can read what")
    (chore "host" "add a machine: its folder, host key, secrets file and index entries")
    (chore "install" "first install of a host with nixos-anywhere, secrets checked first")
    (chore "iso" "build the installer image, write it to a USB stick and verify it")
    (chore "update" "new upstream versions and hashes for pkgs/; --inputs moves flake inputs")
    (chore "init" "make the repository yours: your keys in, example keys out, data keys new")
    (chore "demo" "deploy a demo fleet to three local test hosts (as root), then remove them")
  ];

  devshell.startup.pre-commit-install.text = ''
    if git -C "$PRJ_ROOT" rev-parse --git-dir >/dev/null 2>&1; then
      pre-commit install >/dev/null
    fi
  '';
}
