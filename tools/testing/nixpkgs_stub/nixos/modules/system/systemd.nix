# Models nixos/modules/system/boot/systemd.nix (and lib/systemd-unit-options.nix): the
# unit options the fleet and sops-nix set, systemd.enableEmergencyMode, getty autologin.
{ lib, ... }:
let
  inherit (lib) mkOption types;
  unitOption = import ./unit-option.nix { inherit lib; };
  # lib/systemd-lib.nix's unitNameType: a unit name with one of systemd's unit suffixes.
  unitNameType = types.strMatching "[a-zA-Z0-9@%:_.\\-]+[.](service|socket|device|mount|automount|swap|target|path|timer|scope|slice)";
  units = mkOption {
    type = types.listOf unitNameType;
    default = [ ];
  };
  section = mkOption {
    type = types.attrsOf unitOption;
    default = { };
  };
  commonUnitOptions = {
    description = mkOption {
      type = types.singleLineStr;
      default = "";
    };
    wantedBy = units;
    requiredBy = units;
    wants = units;
    requires = units;
    after = units;
    before = units;
    bindsTo = units;
    partOf = units;
    conflicts = units;
    unitConfig = section;
    restartTriggers = mkOption {
      type = types.listOf types.unspecified;
      default = [ ];
    };
    enable = mkOption {
      type = types.bool;
      default = true;
    };
  };
  service = types.submodule {
    options = commonUnitOptions // {
      serviceConfig = section;
      environment = mkOption {
        type = types.attrsOf (
          types.nullOr (
            types.oneOf [
              types.str
              types.path
              types.package
            ]
          )
        );
        default = { };
      };
      path = mkOption {
        type = types.listOf (
          types.oneOf [
            types.package
            types.str
          ]
        );
        default = [ ];
      };
      script = mkOption {
        type = types.lines;
        default = "";
      };
      preStart = mkOption {
        type = types.lines;
        default = "";
      };
      restartIfChanged = mkOption {
        type = types.bool;
        default = true;
      };
      stopIfChanged = mkOption {
        type = types.bool;
        default = true;
      };
      startAt = mkOption {
        type = types.either types.str (types.listOf types.str);
        default = [ ];
      };
    };
  };
  timer = types.submodule {
    options = commonUnitOptions // {
      timerConfig = section;
    };
  };
in
{
  options.systemd = {
    services = mkOption {
      type = types.attrsOf service;
      default = { };
    };
    timers = mkOption {
      type = types.attrsOf timer;
      default = { };
    };
    enableEmergencyMode = mkOption {
      type = types.bool;
      default = true;
    };
  };
  options.services.getty.autologinUser = mkOption {
    type = types.nullOr types.str;
    default = null;
  };
  # services/ttys/getty.nix: text shown on the console after the issue text.
  options.services.getty.helpLine = mkOption {
    type = types.lines;
    default = "";
  };
}
