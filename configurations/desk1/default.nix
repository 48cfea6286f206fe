# desk1: example workstation: btrfs on LUKS, workstation profile with PipeWire
# audio, kopia backups to an external disk.
{ config, inputs, ... }:
let
  modules = import ../../modules/nixos/nixos-modules.nix;
in
{
  imports = [
    modules.profile-workstation
    inputs.nixos-hardware.nixosModules.common-cpu-amd
    inputs.nixos-hardware.nixosModules.common-pc-ssd
    ./disko.nix
  ];

  boot.initrd.availableKernelModules = [
    "nvme"
    "xhci_pci"
    "usb_storage"
    "sd_mod"
  ];
  hardware.enableRedistributableFirmware = true;

  sops.secrets.kopia-password = { };
  devops.services.kopia = {
    enable = true;
    repository = [
      "filesystem"
      "--path=/mnt/backup/kopia"
    ];
    paths = [ "/home" ];
    passwordFile = config.sops.secrets.kopia-password.path;
    readWritePaths = [ "/mnt/backup/kopia" ];
  };

  # The backup disk is external: mounted when present at boot (nofail), and
  # the backup waits for it. When it is absent the mount fails, so the backup
  # is not started (a failed dependency) instead of failing on a missing path.
  fileSystems."/mnt/backup" = {
    device = "/dev/disk/by-label/backup";
    fsType = "btrfs";
    options = [
      "nofail"
      "noatime"
      "x-systemd.device-timeout=10s"
    ];
  };
  systemd.services.kopia-backup.unitConfig.RequiresMountsFor = [ "/mnt/backup/kopia" ];

  # The NixOS release this host was first installed with; it keeps state
  # formats (databases, file layouts) compatible and never changes afterwards.
  system.stateVersion = "26.05";
}
