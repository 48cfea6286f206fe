# Models nixos/modules/services/security/fail2ban.nix: the options the fleet sets (rows in
# ../../../PROVENANCE.tsv) and upstream's definitions that meet the fleet's: the DEFAULT and
# sshd jails, and sshd's LogLevel at mkDefault "VERBOSE" (a fleet mkDefault there would clash).
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types;
  cfg = config.services.fail2ban;
  # pkgs.formats.keyValue's value type, modelled.
  keyValue = types.attrsOf (
    types.oneOf [
      types.bool
      types.int
      types.float
      types.str
    ]
  );
in
{
  options.services.fail2ban = {
    enable = mkOption {
      type = types.bool;
      default = false;
    };
    package = lib.mkPackageOption pkgs "fail2ban" { };
    bantime = mkOption {
      type = types.str;
      default = "10m";
    };
    maxretry = mkOption {
      type = types.ints.unsigned;
      default = 3;
    };
    ignoreIP = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };
    bantime-increment.enable = mkOption {
      type = types.bool;
      default = false;
    };
    jails = mkOption {
      default = { };
      type = types.attrsOf (
        types.either types.lines (
          types.submodule (
            { name, ... }:
            {
              options = {
                enabled = lib.mkEnableOption "this jail" // {
                  default = true;
                  readOnly = name == "DEFAULT";
                };
                settings = mkOption {
                  type = keyValue;
                  default = { };
                };
              };
            }
          )
        )
      );
    };
  };

  config = lib.mkIf cfg.enable {
    services.fail2ban.jails = lib.mkMerge [
      {
        DEFAULT.settings = {
          inherit (cfg) maxretry bantime;
          ignoreip = "127.0.0.1/8 ::1 ${lib.concatStringsSep " " cfg.ignoreIP}";
          backend = "systemd";
        };
      }
      (lib.mkIf config.services.openssh.enable { sshd.settings.port = lib.mkDefault "22"; })
    ];
    services.openssh.settings.LogLevel = lib.mkDefault "VERBOSE";
    systemd.services.fail2ban.wantedBy = [ "multi-user.target" ];
  };
}
