# Server profile: headless and minimal, on top of the common profile.
{ lib, ... }:
let
  modules = import ../nixos-modules.nix;
in
{
  imports = [ modules.profile-common ];

  # No documentation, fonts or desktop integration on a machine nobody sits at.
  documentation.enable = lib.mkDefault false;
  fonts.fontconfig.enable = lib.mkDefault false;
  xdg.autostart.enable = lib.mkDefault false;
  xdg.icons.enable = lib.mkDefault false;
  xdg.mime.enable = lib.mkDefault false;
  xdg.sounds.enable = lib.mkDefault false;
  programs.command-not-found.enable = lib.mkDefault false;
  services.udisks2.enable = lib.mkDefault false;

  # A server that fails to boot should keep trying to come up with SSH, not
  # wait for someone at a console.
  systemd.enableEmergencyMode = lib.mkDefault false;
}
