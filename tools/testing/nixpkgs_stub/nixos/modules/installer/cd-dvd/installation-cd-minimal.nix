# Models nixos/modules/installer/cd-dvd/installation-cd-minimal.nix with what it imports
# (profiles/installation-device.nix, installation-cd-base.nix) where it meets the fleet:
# the root file system of the image, empty passwords for root and nixos at normal
# priority, console autologin and help text, SSH with PermitRootLogin "yes" as a default, and the state version.
{ lib, ... }:
{
  fileSystems."/" = lib.mkImageMediaOverride {
    device = "/dev/root";
    fsType = "tmpfs";
    options = [ "mode=0755" ];
  };

  users.users.nixos = {
    isNormalUser = true;
    extraGroups = [
      "wheel"
      "networkmanager"
      "video"
    ];
    initialHashedPassword = "";
  };
  users.users.root.initialHashedPassword = "";

  # profiles/installation-device.nix: a help text at normal priority (lines concatenate).
  services.getty.autologinUser = "nixos";
  services.getty.helpLine = ''
    The "nixos" and "root" accounts have empty passwords.
  '';

  services.openssh.enable = true;
  services.openssh.settings.PermitRootLogin = lib.mkDefault "yes";
  security.sudo.wheelNeedsPassword = lib.mkImageMediaOverride false;
  boot.loader.grub.enable = false;

  system.stateVersion = lib.mkDefault lib.trivial.release;
}
