# Models nixos/modules/tasks/filesystems/zfs.nix: services.zfs options the fleet sets, the
# boot.zfs options disko sets, and upstream's assertion that ZFS needs networking.hostId.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  usesZfs =
    config.boot.supportedFilesystems.zfs or false
    || lib.any (fs: fs.fsType == "zfs") (lib.attrValues config.fileSystems);
in
{
  options = {
    services.zfs.autoScrub.enable = lib.mkEnableOption "periodic scrubbing of ZFS pools";
    services.zfs.trim.enable = mkOption {
      type = types.bool;
      default = true;
    };
    boot.zfs = {
      extraPools = mkOption {
        type = types.listOf types.str;
        default = [ ];
      };
      devNodes = mkOption {
        type = types.path;
        default = "/dev/disk/by-id";
      };
      forceImportRoot = mkOption {
        type = types.bool;
        default = true;
      };
      requestEncryptionCredentials = mkOption {
        type = types.either types.bool (types.listOf types.str);
        default = true;
      };
    };
  };

  config.assertions = [
    {
      assertion = usesZfs -> config.networking.hostId != null;
      message = "ZFS requires networking.hostId to be set";
    }
  ];
}
