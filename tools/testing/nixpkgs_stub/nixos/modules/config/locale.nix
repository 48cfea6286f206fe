# Models nixos/modules/config/{i18n,locale,console}.nix: time zone, locale and console.
{ lib, ... }:
let
  inherit (lib) mkOption types;
in
{
  options = {
    time.timeZone = mkOption {
      # Upstream names the type itself (PROVENANCE.tsv: time.timeZone).
      type = types.nullOr (types.addCheck types.str (zone: !(lib.hasInfix " " zone))) // {
        description = "null or string without spaces";
      };
      default = null;
    };
    i18n.defaultLocale = mkOption {
      type = types.str;
      default = "en_US.UTF-8";
    };
    console = {
      earlySetup = mkOption {
        type = types.bool;
        default = false;
      };
      font = mkOption {
        type = types.nullOr (types.either types.str types.path);
        default = null;
      };
      packages = mkOption {
        type = types.listOf types.package;
        default = [ ];
      };
      colors = mkOption {
        type = types.listOf (types.strMatching "[[:xdigit:]]{6}");
        default = [ ];
      };
    };
  };
}
