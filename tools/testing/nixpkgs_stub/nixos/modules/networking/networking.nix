# Models nixos/modules/tasks/network-interfaces.nix (hostName, hostId),
# services/networking/firewall.nix, nftables.nix and networkmanager.nix.
{ lib, ... }:
let
  inherit (lib) mkOption types;
  ports = {
    allowedTCPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
    };
    allowedUDPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
    };
  };
in
{
  options.networking = {
    hostName = mkOption {
      type = types.strMatching "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$";
      default = "nixos";
    };
    hostId = mkOption {
      type = types.nullOr (types.strMatching "[[:xdigit:]]{8}");
      default = null;
    };
    nftables.enable = mkOption {
      type = types.bool;
      default = false;
    };
    networkmanager.enable = mkOption {
      type = types.bool;
      default = false;
    };
    firewall = ports // {
      enable = mkOption {
        type = types.bool;
        default = true;
      };
      allowPing = mkOption {
        type = types.bool;
        default = true;
      };
      logRefusedConnections = mkOption {
        type = types.bool;
        default = true;
      };
      interfaces = mkOption {
        type = types.attrsOf (types.submodule { options = ports; });
        default = { };
      };
    };
  };
}
