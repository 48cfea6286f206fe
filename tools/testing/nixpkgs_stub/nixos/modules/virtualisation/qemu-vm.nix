# Models nixos/modules/virtualisation/qemu-vm.nix: the VM options the fleet sets, the
# shared directories, and the VM's own root file system (mkVMOverride, priority 10).
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.virtualisation;
  endpoint = {
    address = mkOption {
      type = types.str;
      default = "";
    };
    port = mkOption { type = types.port; };
  };
in
{
  options.virtualisation = {
    memorySize = mkOption {
      type = types.ints.positive;
      default = 1024;
    };
    cores = mkOption {
      type = types.ints.positive;
      default = 1;
    };
    graphics = mkOption {
      type = types.bool;
      default = true;
    };
    diskSize = mkOption {
      type = types.nullOr types.ints.positive;
      default = 1024;
    };
    forwardPorts = mkOption {
      type = types.listOf (
        types.submodule {
          options = {
            from = mkOption {
              type = types.enum [
                "host"
                "guest"
              ];
              default = "host";
            };
            proto = mkOption {
              type = types.enum [
                "tcp"
                "udp"
              ];
              default = "tcp";
            };
            host = endpoint;
            guest = endpoint;
          };
        }
      );
      default = [ ];
    };
    sharedDirectories = mkOption {
      type = types.attrsOf (
        types.submodule {
          options = {
            source = mkOption { type = types.str; };
            target = mkOption { type = types.path; };
            securityModel = mkOption {
              type = types.enum [
                "passthrough"
                "mapped-xattr"
                "mapped-file"
                "none"
              ];
              default = "mapped-xattr";
            };
          };
        }
      );
      default = { };
    };
  };

  config = {
    fileSystems = lib.mkVMOverride (
      {
        "/" = {
          device = "/dev/vda";
          fsType = "ext4";
        };
      }
      // lib.mapAttrs' (
        tag: share:
        lib.nameValuePair share.target {
          device = tag;
          fsType = "9p";
          neededForBoot = true;
          options = [
            "trans=virtio"
            "version=9p2000.L"
          ];
        }
      ) cfg.sharedDirectories
    );
    system.build.vm = config.system.build.toplevel;
  };
}
