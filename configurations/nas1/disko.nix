# Disk layout of nas1: a system disk (EFI system partition, ZFS pool "zroot"
# on LUKS) and two data disks mirrored in ZFS pool "tank", each on LUKS.
# nixos-anywhere sets the passphrase from /tmp/disk-encryption.key at install
# time; it is asked for once at boot.
let
  # A LUKS container filling a partition, holding a member of a ZFS pool.
  luksZfs = name: pool: {
    size = "100%";
    content = {
      type = "luks";
      inherit name;
      passwordFile = "/tmp/disk-encryption.key";
      settings.allowDiscards = true;
      content = {
        type = "zfs";
        inherit pool;
      };
    };
  };
  dataDisk = device: name: {
    type = "disk";
    inherit device;
    content = {
      type = "gpt";
      partitions.luks = luksZfs name "tank";
    };
  };
  poolOptions = {
    options.ashift = "12";
    rootFsOptions = {
      acltype = "posixacl";
      compression = "zstd";
      mountpoint = "none";
      xattr = "sa";
      "com.sun:auto-snapshot" = "false";
    };
  };
  # A dataset mounted by NixOS (legacy mountpoint) at the given path.
  legacy = mountpoint: {
    type = "zfs_fs";
    inherit mountpoint;
    options.mountpoint = "legacy";
  };
in
{
  disko.devices = {
    disk = {
      system = {
        type = "disk";
        device = "/dev/nvme0n1";
        content = {
          type = "gpt";
          partitions = {
            ESP = {
              size = "1G";
              type = "EF00";
              content = {
                type = "filesystem";
                format = "vfat";
                mountpoint = "/boot";
                mountOptions = [ "umask=0077" ];
              };
            };
            luks = luksZfs "cryptsystem" "zroot";
          };
        };
      };
      data1 = dataDisk "/dev/sda" "cryptdata1";
      data2 = dataDisk "/dev/sdb" "cryptdata2";
    };

    zpool = {
      zroot = poolOptions // {
        type = "zpool";
        datasets = {
          root = legacy "/";
          nix = legacy "/nix";
          var = legacy "/var";
        };
      };
      tank = poolOptions // {
        type = "zpool";
        mode = "mirror";
        datasets.srv = legacy "/srv";
      };
    };
  };
}
