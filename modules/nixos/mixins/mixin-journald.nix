# journald: logs kept on disk across reboots, bounded in size and age.
{ lib, ... }:
{
  services.journald = {
    storage = lib.mkDefault "persistent";
    extraConfig = lib.mkDefault ''
      SystemMaxUse=1G
      MaxRetentionSec=3month
    '';
  };
}
