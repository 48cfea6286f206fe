# Models services/desktop-managers/plasma6.nix and display-managers/sddm.nix: the switches
# the workstation profile sets.
{ lib, ... }:
let
  enable = lib.mkOption {
    type = lib.types.bool;
    default = false;
  };
in
{
  options.services = {
    desktopManager.plasma6.enable = enable;
    displayManager.sddm.enable = enable;
    displayManager.sddm.wayland.enable = enable;
  };
}
