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

    address = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      example = "10.0.0.10";
      description = ''
        Address of `interface` the exporter listens on (an IPv6 address in
        brackets). When null it listens on every address and only the
        firewall keeps the port closed on the other interfaces: set it
        wherever the interface has a fixed address.
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
      listenAddress = lib.mkIf (cfg.address != null) cfg.address;
      enabledCollectors = [ "systemd" ];
      # Opened below on cfg.interface only, not on every interface.
      openFirewall = false;
    };

    # Listening on one address needs that address to be up.
    systemd.services.prometheus-node-exporter = lib.mkIf (cfg.address != null) {
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
    };

    networking.firewall.interfaces = lib.mkIf (cfg.interface != null) {
      ${cfg.interface}.allowedTCPPorts = [ cfg.port ];
    };
  };
}
