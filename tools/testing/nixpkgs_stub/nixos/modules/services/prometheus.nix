# Models nixos/modules/services/monitoring/prometheus/default.nix (the server),
# prometheus/alertmanager.nix and exporters/smartctl.nix: the options the fleet's monitoring
# role and mixin set, with upstream's types and defaults (PROVENANCE.tsv), and the upstream
# assertion that meets the fleet's value (no port inside listenAddress).
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.services.prometheus;
  exporterOptions = import ./exporter-options.nix { inherit lib; };
  # Upstream's scrape_config is a submodule of many options (each null by default, left out
  # of the generated file); the fleet sets job_name and static_configs, modelled here.
  nullOr = type: mkOption {
    type = types.nullOr type;
    default = null;
  };
  staticConfig = types.submodule {
    options = {
      targets = mkOption { type = types.listOf types.str; };
      labels = mkOption {
        type = types.attrsOf types.str;
        default = { };
      };
    };
  };
  scrapeConfig = types.submodule {
    options = {
      job_name = mkOption { type = types.str; };
      static_configs = nullOr (types.listOf staticConfig);
    };
  };
in
{
  options.services.prometheus = {
    enable = lib.mkEnableOption "Prometheus monitoring daemon";
    port = mkOption {
      type = types.port;
      default = 9090;
    };
    listenAddress = mkOption {
      type = types.str;
      default = "0.0.0.0";
    };
    retentionTime = mkOption {
      type = types.nullOr types.str;
      default = null;
    };
    scrapeConfigs = mkOption {
      type = types.listOf scrapeConfig;
      default = [ ];
    };
    ruleFiles = mkOption {
      type = types.listOf types.path;
      default = [ ];
    };
    alertmanagers = mkOption {
      type = types.listOf types.attrs;
      default = [ ];
    };

    alertmanager = {
      enable = lib.mkEnableOption "Prometheus Alertmanager";
      configuration = mkOption {
        type = types.nullOr types.attrs;
        default = null;
      };
      checkConfig = mkOption {
        type = types.bool;
        default = true;
      };
      listenAddress = mkOption {
        type = types.str;
        default = "";
      };
      port = mkOption {
        type = types.port;
        default = 9093;
      };
      environmentFile = mkOption {
        type = types.nullOr types.path;
        default = null;
      };
    };

    exporters.smartctl = exporterOptions "smartctl" 9633;
  };

  config = lib.mkMerge [
    (lib.mkIf cfg.enable {
      assertions = [
        {
          assertion = builtins.match "(.*\\..*|.*]):([[:digit:]]+)" cfg.listenAddress == null;
          message = "Do not specify the port for Prometheus to listen on in the listenAddress option; use the port option instead";
        }
      ];
      systemd.services.prometheus.wantedBy = [ "multi-user.target" ];
    })
    (lib.mkIf cfg.alertmanager.enable {
      assertions = [
        {
          assertion = cfg.alertmanager.configuration != null;
          message = "Can not enable alertmanager without a configuration.";
        }
      ];
      systemd.services.alertmanager.wantedBy = [ "multi-user.target" ];
    })
    (lib.mkIf cfg.exporters.smartctl.enable {
      networking.firewall.allowedTCPPorts = lib.mkIf cfg.exporters.smartctl.openFirewall [
        cfg.exporters.smartctl.port
      ];
      systemd.services.prometheus-smartctl-exporter.wantedBy = [ "multi-user.target" ];
    })
  ];
}
