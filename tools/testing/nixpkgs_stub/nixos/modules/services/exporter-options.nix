# Models mkExporterOpts of nixos/modules/services/monitoring/prometheus/exporters.nix: the
# options every exporter has (rows in ../../../PROVENANCE.tsv). Not a module: a function the
# exporter models call with the exporter's name and default port.
{ lib }:
name: port:
let
  inherit (lib) mkOption types;
in
{
  enable = lib.mkEnableOption "the prometheus ${name} exporter";
  port = mkOption {
    type = types.port;
    default = port;
  };
  listenAddress = mkOption {
    type = types.str;
    default = "0.0.0.0";
  };
  openFirewall = mkOption {
    type = types.bool;
    default = false;
  };
  extraFlags = mkOption {
    type = types.listOf types.str;
    default = [ ];
  };
}
