# Models nixos/modules/security/sudo.nix and rtkit.nix.
{ lib, ... }:
let
  bool =
    default:
    lib.mkOption {
      type = lib.types.bool;
      inherit default;
    };
in
{
  options.security = {
    sudo = {
      enable = bool true;
      execWheelOnly = bool false;
      wheelNeedsPassword = bool true;
    };
    rtkit.enable = bool false;
    polkit.enable = bool false;
  };
}
