# Models nixos/modules/services/monitoring/prometheus/exporters.nix for the node exporter:
# listenAddress (default 0.0.0.0), port, openFirewall and enabledCollectors.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.services.prometheus.exporters.node;
  exporterOptions = import ./exporter-options.nix { inherit lib; };
in
{
  options.services.prometheus.exporters.node = exporterOptions "node" 9100 // {
    enabledCollectors = mkOption {
      type = types.listOf types.str;
      default = [ ];
    };
  };

  config = lib.mkIf cfg.enable {
    networking.firewall.allowedTCPPorts = lib.mkIf cfg.openFirewall [ cfg.port ];
    systemd.services.prometheus-node-exporter = {
      wantedBy = [ "multi-user.target" ];
      after = [ "network.target" ];
      serviceConfig.ExecStart = lib.concatStringsSep " " (
        [
          "node_exporter"
          "--web.listen-address"
          "${cfg.listenAddress}:${toString cfg.port}"
        ]
        ++ map (collector: "--collector.${collector}") cfg.enabledCollectors
      );
    };
  };
}
