# The modelled NixOS modules: typed declarations of every NixOS option the fleet (and the
# input flakes' modules it imports) sets, with the upstream definitions that meet the
# fleet's values at their real priority. Each option the fleet sets has its row in
# ../../PROVENANCE.tsv (the type and default upstream declares, where it was read, why it
# stands for 26.05); ../../release.nix picks 26.05 or 26.11pre where the two differ.
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
  ./services/journald-remote.nix
  ./services/fail2ban.nix
  ./services/misc.nix
  ./services/desktop.nix
  ./services/prometheus-node.nix
  ./services/prometheus.nix
  ./security/security.nix
  ./hardware/hardware.nix
  ./programs/programs.nix
  ./virtualisation/build-vm.nix
  ./virtualisation/podman.nix
]
