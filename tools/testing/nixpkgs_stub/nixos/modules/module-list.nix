# The modelled NixOS modules: typed declarations of every NixOS option the fleet (and the
# input flakes' modules it imports) sets, with the upstream definitions that meet the
# fleet's values at the same priority. Types as nixpkgs declares them for 26.05; where an
# upstream source could be read, it was (README, "Offline evaluation").
[
  ./misc/assertions.nix
  ./misc/nixpkgs.nix
  ./misc/documentation.nix
  ./system/toplevel.nix
  ./system/boot.nix
  ./system/systemd.nix
  ./system/etc.nix
  ./config/sysctl.nix
  ./config/users-groups.nix
  ./config/nix.nix
  ./config/locale.nix
  ./tasks/filesystems.nix
  ./tasks/zfs.nix
  ./networking/networking.nix
  ./services/openssh.nix
  ./services/journald.nix
  ./services/misc.nix
  ./services/desktop.nix
  ./services/prometheus-node.nix
  ./security/security.nix
  ./hardware/hardware.nix
  ./programs/programs.nix
  ./virtualisation/build-vm.nix
  ./virtualisation/podman.nix
]
