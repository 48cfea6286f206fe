# Models nixos/modules/services/networking/ssh/sshd.nix: the settings the fleet sets (typed
# as upstream types them), host keys, the firewall port it opens, and the installer's
# PermitRootLogin default (see ../installer/cd-dvd/installation-cd-minimal.nix).
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.services.openssh;
  sshdValue =
    value:
    if builtins.isBool value then
      (if value then "yes" else "no")
    else if builtins.isList value then
      lib.concatStringsSep "," value
    else
      toString value;
  settingLines = lib.concatStrings (
    lib.mapAttrsToList (
      name: value: lib.optionalString (value != null) "${name} ${sshdValue value}\n"
    ) cfg.settings
  );
  hostKeyLines = lib.concatMapStrings (key: "HostKey ${key.path}\n") cfg.hostKeys;
  nullableBool = mkOption {
    type = types.nullOr types.bool;
    default = null;
  };
in
{
  options.services.openssh = {
    enable = mkOption {
      type = types.bool;
      default = false;
    };
    openFirewall = mkOption {
      type = types.bool;
      default = true;
    };
    ports = mkOption {
      type = types.listOf types.port;
      default = [ 22 ];
    };
    hostKeys = mkOption {
      type = types.listOf types.attrs;
      default = [
        {
          type = "rsa";
          bits = 4096;
          path = "/etc/ssh/ssh_host_rsa_key";
        }
        {
          type = "ed25519";
          path = "/etc/ssh/ssh_host_ed25519_key";
        }
      ];
    };
    settings = mkOption {
      type = types.submodule {
        freeformType = types.attrsOf (
          types.nullOr (
            types.oneOf [
              types.bool
              types.int
              types.str
              (types.listOf types.str)
            ]
          )
        );
        options = {
          PermitRootLogin = mkOption {
            type = types.nullOr (
              types.enum [
                "yes"
                "without-password"
                "prohibit-password"
                "forced-commands-only"
                "no"
              ]
            );
            default = "prohibit-password";
          };
          PasswordAuthentication = mkOption {
            type = types.nullOr types.bool;
            default = true;
          };
          KbdInteractiveAuthentication = mkOption {
            type = types.nullOr types.bool;
            default = true;
          };
          X11Forwarding = mkOption {
            type = types.nullOr types.bool;
            default = false;
          };
          UseDns = nullableBool;
          StrictModes = mkOption {
            type = types.nullOr types.bool;
            default = true;
          };
          LogLevel = mkOption {
            type = types.nullOr (
              types.enum [
                "QUIET"
                "FATAL"
                "ERROR"
                "INFO"
                "VERBOSE"
                "DEBUG"
                "DEBUG1"
                "DEBUG2"
                "DEBUG3"
              ]
            );
            default = "INFO";
          };
          AllowUsers = mkOption {
            type = types.nullOr (types.listOf types.str);
            default = null;
          };
        };
      };
      default = { };
    };
  };

  config = lib.mkIf cfg.enable {
    networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall cfg.ports;
    environment.etc."ssh/sshd_config".text = settingLines + hostKeyLines;
  };
}
