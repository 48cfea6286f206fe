# Models what the NixOS test framework adds to every node, for the options tests/vm sets:
# virtualisation.vlans (upstream in nixos/modules/virtualisation/qemu-vm.nix), the node name
# and the addresses of nixos/lib/testing/network.nix (networking.interfaces.<name>.ipv4.addresses,
# upstream in nixos/modules/tasks/network-interfaces.nix), the host name defaulting to the node
# name. Provenance: ./README.md.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  address = types.submodule {
    options = {
      address = mkOption { type = types.str; };
      prefixLength = mkOption { type = types.addCheck types.int (n: n >= 0 && n <= 128); };
    };
  };
in
{
  options = {
    virtualisation.vlans = mkOption {
      type = types.listOf types.ints.unsigned;
      default = [ 1 ];
    };
    virtualisation.test.nodeName = mkOption { type = types.str; };
    networking.interfaces = mkOption {
      type = types.attrsOf (
        types.submodule {
          options.ipv4.addresses = mkOption {
            type = types.listOf address;
            default = [ ];
          };
        }
      );
      default = { };
    };
  };
  config = {
    networking.hostName = lib.mkDefault config.virtualisation.test.nodeName;
    # network.nix: 192.168.<vlan>.<node number> on eth<n> for the n-th vlan (numbers modelled as 1).
    networking.interfaces = lib.listToAttrs (
      lib.imap1 (
        i: vlan:
        lib.nameValuePair "eth${toString i}" {
          ipv4.addresses = [
            {
              address = "192.168.${toString vlan}.1";
              prefixLength = 24;
            }
          ];
        }
      ) config.virtualisation.vlans
    );
  };
}
