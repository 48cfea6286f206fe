# Models nixos/modules/tasks/network-interfaces.nix (hostName, hostId),
# services/networking/firewall.nix, nftables.nix and networkmanager.nix.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  ports = {
    allowedTCPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
      apply = ports: lib.unique (builtins.sort builtins.lessThan ports);
    };
    allowedUDPPorts = mkOption {
      type = types.listOf types.port;
      default = [ ];
      apply = ports: lib.unique (builtins.sort builtins.lessThan ports);
    };
  };
in
{
  options.networking = {
    # Upstream's default is config.system.nixos.distroId ("nixos"), documented by defaultText.
    hostName = mkOption {
      type = types.strMatching "^$|^[[:alnum:]]([[:alnum:]_-]{0,61}[[:alnum:]])?$";
      default = "nixos";
      defaultText = lib.literalExpression "config.system.nixos.distroId";
    };
    # Any string (or null); an assertion checks the 8 hex digits (below).
    hostId = mkOption {
      type = types.nullOr types.str;
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
        default = false;
      };
      interfaces = mkOption {
        type = types.attrsOf (types.submodule { options = ports; });
        default = { };
      };
    };
  };

  config.assertions =
    let
      hostId = config.networking.hostId;
    in
    [
      {
        assertion = hostId == null || builtins.match "[0-9a-fA-F]{8}" hostId != null;
        message = "Invalid value given to the networking.hostId option.";
      }
    ];
}
