# Boot: systemd-boot on UEFI with a bounded list of generations, systemd in the
# initrd, and a clean /tmp on every boot.
{ lib, ... }:
{
  boot.loader.systemd-boot = {
    enable = lib.mkDefault true;
    configurationLimit = lib.mkDefault 20;
    # No editing of the kernel command line (init=/bin/sh) at the boot menu.
    editor = lib.mkDefault false;
  };
  boot.loader.efi.canTouchEfiVariables = lib.mkDefault true;
  boot.initrd.systemd.enable = lib.mkDefault true;
  boot.tmp.cleanOnBoot = lib.mkDefault true;
}
