# journald: logs kept on disk across reboots, bounded in size and age.
{ lib, ... }:
{
  # journald.conf's [Journal] section (services.journald.settings replaced extraConfig).
  services.journald.settings.Journal = {
    Storage = lib.mkDefault "persistent";
    SystemMaxUse = lib.mkDefault "1G";
    MaxRetentionSec = lib.mkDefault "3month";
  };
}
