# Models nixos/modules/system/boot/systemd/journald-upload.nix and journald-remote.nix: the
# options the fleet's log shipping sets (rows in ../../../PROVENANCE.tsv). The settings are
# freeform INI sections (pkgs.formats.systemd), with the declared keys below.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  unitOption = import ../system/unit-option.nix { inherit lib; };
  iniSections = types.attrsOf (types.attrsOf unitOption);
  nullStr = mkOption {
    type = types.nullOr types.str;
    default = null;
  };
in
{
  options.services.journald.upload = {
    enable = lib.mkEnableOption "uploading the systemd journal to a remote server";
    settings = mkOption {
      default = { };
      type = types.submodule {
        freeformType = iniSections;
        options.Upload = {
          URL = mkOption { type = types.str; };
          ServerKeyFile = nullStr;
          ServerCertificateFile = nullStr;
          TrustedCertificateFile = nullStr;
          NetworkTimeoutSec = nullStr;
        };
      };
    };
  };

  options.services.journald.remote = {
    enable = lib.mkEnableOption "receiving systemd journals from the network";
    listen = mkOption {
      type = types.enum [
        "https"
        "http"
      ];
      default = "https";
    };
    output = mkOption {
      type = types.str;
      default = "/var/log/journal/remote/";
    };
    port = mkOption {
      type = types.port;
      default = 19532;
    };
    settings = mkOption {
      default = { };
      type = types.submodule {
        freeformType = iniSections;
        options.Remote = {
          Seal = mkOption {
            type = types.bool;
            default = false;
          };
          SplitMode = mkOption {
            type = types.enum [
              "host"
              "none"
            ];
            default = "host";
          };
        };
      };
    };
  };

  # Upstream writes journal-upload.conf and journal-remote.conf from the settings only while
  # the service is enabled (format.generate; nulls left out).
  config = lib.mkMerge [
    (lib.mkIf config.services.journald.upload.enable {
      systemd.services.systemd-journal-upload.wantedBy = [ "multi-user.target" ];
      environment.etc."systemd/journal-upload.conf".text = builtins.toJSON config.services.journald.upload.settings;
    })
    (lib.mkIf config.services.journald.remote.enable {
      systemd.services.systemd-journal-remote.wantedBy = [ "multi-user.target" ];
      environment.etc."systemd/journal-remote.conf".text = builtins.toJSON config.services.journald.remote.settings;
    })
  ];
}
