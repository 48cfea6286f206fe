# nas1: example storage server: ZFS on LUKS, server profile, monitoring on the
# LAN interface only and nightly kopia backups to S3-compatible storage.
{ config, ... }:
let
  modules = import ../../modules/nixos/nixos-modules.nix;
in
{
  imports = [
    modules.profile-server
    ./disko.nix
  ];

  boot.initrd.availableKernelModules = [
    "ahci"
    "nvme"
    "sd_mod"
    "xhci_pci"
  ];
  hardware.enableRedistributableFirmware = true;

  # ZFS needs a host id unique to this machine (8 hex digits).
  networking.hostId = "4e98920d";
  boot.supportedFilesystems.zfs = true;
  services.zfs.autoScrub.enable = true;
  services.zfs.trim.enable = true;

  devops.monitoring = {
    enable = true;
    interface = "enp1s0";
    # nas1's fixed LAN address on enp1s0 (its deploy address).
    address = "192.0.2.10";
  };

  sops.secrets.kopia-password = { };
  sops.secrets.kopia-environment = { };
  devops.services.kopia = {
    enable = true;
    repository = [
      "s3"
      "--bucket=nas1-backups"
      "--endpoint=s3.example.org"
    ];
    paths = [
      "/etc"
      "/srv"
      "/var/lib"
    ];
    passwordFile = config.sops.secrets.kopia-password.path;
    environmentFile = config.sops.secrets.kopia-environment.path;
    schedule = "*-*-* 02:00:00";
  };

  # The NixOS release this host was first installed with; it keeps state
  # formats (databases, file layouts) compatible and never changes afterwards.
  system.stateVersion = "26.05";
}
