# nas1: example storage server: ZFS on LUKS, server profile, the fleet's monitoring host
# (on the LAN interface only) and nightly kopia backups to S3-compatible storage.
{ config, ... }:
let
  modules = import ../../modules/nixos/nixos-modules.nix;
in
{
  imports = [
    modules.profile-server
    ./disko.nix
  ];

  boot.initrd.availableKernelModules = [
    "ahci"
    "nvme"
    "sd_mod"
    "xhci_pci"
  ];
  hardware.enableRedistributableFirmware = true;

  # ZFS needs a host id unique to this machine (8 hex digits).
  networking.hostId = "4e98920d";
  boot.supportedFilesystems.zfs = true;
  services.zfs.autoScrub.enable = true;
  services.zfs.trim.enable = true;

  # Where nas1 is scraped: ./monitoring.nix, which also makes nas1 the fleet's monitoring
  # host: Prometheus scrapes every host, Alertmanager mails and posts to a webhook, and every
  # other host's journal arrives here.
  sops.secrets.alertmanager-environment = { };
  devops.monitoring.server = {
    email = {
      to = "admin@example.org";
      from = "alertmanager@example.org";
      smarthost = "smtp.example.org:587";
      username = "alertmanager@example.org";
    };
    webhook = true;
    # SMTP_PASSWORD=… and WEBHOOK_URL=… (e.g. an ntfy topic URL).
    environmentFile = config.sops.secrets.alertmanager-environment.path;
  };

  sops.secrets.kopia-password = { };
  sops.secrets.kopia-environment = { };
  devops.services.kopia = {
    enable = true;
    repository = [
      "s3"
      "--bucket=nas1-backups"
      "--endpoint=s3.example.org"
    ];
    paths = [
      "/etc"
      "/srv"
      "/var/lib"
    ];
    passwordFile = config.sops.secrets.kopia-password.path;
    environmentFile = config.sops.secrets.kopia-environment.path;
    schedule = "*-*-* 02:00:00";
  };

  # The NixOS release this host was first installed with; it keeps state
  # formats (databases, file layouts) compatible and never changes afterwards.
  system.stateVersion = "26.05";
}
