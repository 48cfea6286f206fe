# Models nixos/modules/security/sudo.nix, rtkit.nix and audit.nix.
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
    audit = {
      enable = lib.mkOption {
        type = lib.types.enum [
          false
          true
          "lock"
        ];
        default = false;
      };
      rules = lib.mkOption {
        type = lib.types.listOf lib.types.str;
        default = [ ];
      };
    };
    polkit.enable = bool false;
  };
}
