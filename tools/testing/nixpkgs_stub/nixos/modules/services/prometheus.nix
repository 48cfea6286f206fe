# Models nixos/modules/services/monitoring/prometheus/default.nix (the server),
# prometheus/alertmanager.nix, exporters/smartctl.nix and exporters/blackbox.nix: the options the fleet's monitoring
# role and mixin set, with upstream's types and defaults (PROVENANCE.tsv), and the upstream
# assertion that meets the fleet's value (no port inside listenAddress).
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.services.prometheus;
  exporterOptions = import ./exporter-options.nix { inherit lib; };
  # Upstream's scrape_config is a submodule of many options (each null by default, left out
  # of the generated file); the fleet sets job_name, static_configs and, for the TLS probes,
  # metrics_path, params and relabel_configs, modelled here (mkOpt/mkDefOpt: nullOr, null).
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
  relabelConfig = types.submodule {
    options = {
      action = nullOr (
        types.enum [
          "replace"
          "lowercase"
          "uppercase"
          "keep"
          "drop"
          "hashmod"
          "labelmap"
          "labeldrop"
          "labelkeep"
        ]
      );
      modulus = nullOr types.int;
      regex = nullOr types.str;
      replacement = nullOr types.str;
      separator = nullOr types.str;
      source_labels = nullOr (types.listOf types.str);
      target_label = nullOr types.str;
    };
  };
  scrapeConfig = types.submodule {
    options = {
      job_name = mkOption { type = types.str; };
      static_configs = nullOr (types.listOf staticConfig);
      metrics_path = nullOr types.str;
      params = nullOr (types.attrsOf (types.listOf types.str));
      relabel_configs = nullOr (types.listOf relabelConfig);
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
    exporters.blackbox = exporterOptions "blackbox" 9115 // {
      configFile = mkOption { type = types.path; };
      enableConfigCheck = mkOption {
        type = types.bool;
        default = true;
      };
    };
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
    (lib.mkIf cfg.exporters.blackbox.enable {
      networking.firewall.allowedTCPPorts = lib.mkIf cfg.exporters.blackbox.openFirewall [
        cfg.exporters.blackbox.port
      ];
      systemd.services.prometheus-blackbox-exporter = {
        wantedBy = [ "multi-user.target" ];
        serviceConfig.ExecStart = lib.concatStringsSep " " [
          "blackbox_exporter"
          "--web.listen-address"
          "${cfg.exporters.blackbox.listenAddress}:${toString cfg.exporters.blackbox.port}"
          "--config.file"
          "${cfg.exporters.blackbox.configFile}"
        ];
      };
    })
  ];
}
