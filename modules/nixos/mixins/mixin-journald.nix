# journald: logs kept on disk across reboots, bounded in size and age.
#
# NixOS 26.05 writes journald.conf from services.journald.storage and extraConfig;
# 26.11 replaces them with services.journald.settings.Journal and makes extraConfig an
# error. The module uses whichever the release it is evaluated with declares, so the
# fleet evaluates on 26.05 now and on 26.11 after the move (tools/nix_eval_test.ts
# evaluates both).
{ lib, options, ... }:
let
  limits = {
    SystemMaxUse = "1G";
    MaxRetentionSec = "3month";
  };
in
{
  config =
    if options.services.journald ? settings then
      {
        services.journald.settings.Journal = {
          Storage = lib.mkDefault "persistent";
        }
        // lib.mapAttrs (_: lib.mkDefault) limits;
      }
    else
      {
        services.journald.storage = lib.mkDefault "persistent";
        # extraConfig is plain lines, appended after the options upstream writes; a host
        # adds its own lines, and journald takes the last value of a setting.
        services.journald.extraConfig = lib.concatStrings (
          lib.mapAttrsToList (name: value: "${name}=${value}\n") limits
        );
      };
}
