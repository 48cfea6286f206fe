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

  system.stateVersion = "25.11";
}
