# desk1: example workstation: btrfs on LUKS, workstation profile with PipeWire
# audio, kopia backups to an external disk when it is mounted.
{
  config,
  inputs,
  pkgs,
  ...
}:
let
  modules = import ../../modules/nixos/nixos-modules.nix;
in
{
  imports = [
    modules.profile-workstation
    inputs.nixos-hardware.nixosModules.common-cpu-amd
    inputs.nixos-hardware.nixosModules.common-pc-ssd
    ./disko.nix
  ];

  boot.initrd.availableKernelModules = [
    "nvme"
    "xhci_pci"
    "usb_storage"
    "sd_mod"
  ];
  hardware.enableRedistributableFirmware = true;

  sops.secrets.kopia-password = { };
  devops.services.kopia = {
    enable = true;
    repository = [
      "filesystem"
      "--path=/mnt/backup/kopia"
    ];
    paths = [ "/home" ];
    passwordFile = config.sops.secrets.kopia-password.path;
    # "-": no error setting up the sandbox while the disk is absent.
    readWritePaths = [ "-/mnt/backup/kopia" ];
  };

  # The backup disk is external and may be absent. Then the run is skipped
  # (ExecCondition), not failed; while it is mounted, the backup starts after
  # the mount and stops if it goes away (RequiresMountsFor).
  systemd.services.kopia-backup = {
    unitConfig.RequiresMountsFor = [ "/mnt/backup/kopia" ];
    serviceConfig.ExecCondition = "${pkgs.util-linux}/bin/mountpoint --quiet /mnt/backup";
  };

  # A person who uses desk1 but is not an admin. Their secrets live in
  # secrets/users/sam/desk1.yaml, which only sam, desk1 and the admins can
  # decrypt (`deno task secrets user grant sam desk1`); each of its keys is
  # installed as /run/secrets/users/sam/<key>, owned by sam, mode 0400
  # (`keys = [ … ]` installs only those).
  users.users.sam = {
    isNormalUser = true;
    description = "Example user";
  };
  devops.userSecrets.sam = { };

  # The NixOS release this host was first installed with; it keeps state
  # formats (databases, file layouts) compatible and never changes afterwards.
  system.stateVersion = "26.05";
}
