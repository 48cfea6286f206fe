# Prometheus node exporter, reachable through one chosen network interface only.
{ config, lib, ... }:
let
  cfg = config.devops.monitoring;
in
{
  options.devops.monitoring = {
    enable = lib.mkEnableOption "the Prometheus node exporter on one network interface";

    interface = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      example = "wg0";
      description = ''
        Network interface on which the exporter's port is opened in the
        firewall. The port stays closed on every other interface.
      '';
    };

    port = lib.mkOption {
      type = lib.types.port;
      default = 9100;
      description = "TCP port of the node exporter.";
    };
  };

  config = lib.mkIf cfg.enable {
    assertions = [
      {
        assertion = cfg.interface != null;
        message = "devops.monitoring.interface must name the interface the node exporter is reachable on";
      }
    ];

    services.prometheus.exporters.node = {
      enable = true;
      inherit (cfg) port;
      enabledCollectors = [ "systemd" ];
      # Opened below on cfg.interface only, not on every interface.
      openFirewall = false;
    };

    networking.firewall.interfaces = lib.mkIf (cfg.interface != null) {
      ${cfg.interface}.allowedTCPPorts = [ cfg.port ];
    };
  };
}
