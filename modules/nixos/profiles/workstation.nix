# Workstation profile: desktop, GUI applications and audio, on top of the
# common profile.
{ lib, pkgs, ... }:
let
  modules = import ../nixos-modules.nix;
in
{
  imports = [
    modules.profile-common
    modules.mixin-pipewire
  ];

  services.desktopManager.plasma6.enable = lib.mkDefault true;
  services.displayManager.sddm = {
    enable = lib.mkDefault true;
    wayland.enable = lib.mkDefault true;
  };

  # People sit here: they log in at SDDM with passwords (mixin-passwords).
  devops.passwords.workstation = true;

  networking.networkmanager.enable = lib.mkDefault true;
  hardware.bluetooth.enable = lib.mkDefault true;
  services.printing.enable = lib.mkDefault true;
  programs.firefox.enable = lib.mkDefault true;

  fonts.packages = [
    pkgs.noto-fonts
    pkgs.noto-fonts-color-emoji
  ];

  devops.programs.helix.enable = lib.mkDefault true;
}
