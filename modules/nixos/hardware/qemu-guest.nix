# QEMU/KVM guest: virtio drivers in the initrd and the QEMU guest agent.
{ lib, modulesPath, ... }:
{
  imports = [ (modulesPath + "/profiles/qemu-guest.nix") ];

  services.qemuGuest.enable = lib.mkDefault true;
}
