# Models nixos/modules/system/boot/systemd/journald.nix in its settings form (26.05):
# journald.conf comes from services.journald.settings.Journal (a freeform set of systemd
# unit option values); storage, rateLimitInterval, rateLimitBurst, forwardToSyslog and
# audit are renamed into it, console and extraConfig are removed. Storage has no default
# there (systemd's own is "auto"); Audit is set at option-default priority.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  unitOption = import ../system/unit-option.nix { inherit lib; };
  renamed =
    old: new:
    lib.mkRenamedOptionModule
      [
        "services"
        "journald"
        old
      ]
      [
        "services"
        "journald"
        "settings"
        "Journal"
        new
      ];
in
{
  imports = [
    (renamed "storage" "Storage")
    (renamed "rateLimitInterval" "RateLimitIntervalSec")
    (renamed "rateLimitBurst" "RateLimitBurst")
    (renamed "forwardToSyslog" "ForwardToSyslog")
    (renamed "audit" "Audit")
    (lib.mkRemovedOptionModule
      [
        "services"
        "journald"
        "console"
      ]
      "Use services.journald.settings.Journal.ForwardToConsole and services.journald.settings.Journal.TTYPath instead."
    )
    (lib.mkRemovedOptionModule [
      "services"
      "journald"
      "extraConfig"
    ] "Use services.journald.settings.Journal instead.")
  ];

  options.services.journald.settings.Journal = mkOption {
    type = types.submodule { freeformType = types.attrsOf unitOption; };
    default = { };
  };

  config = {
    services.journald.settings.Journal.Audit = lib.mkOptionDefault "keep";
    environment.etc."systemd/journald.conf".text = lib.generators.toINI { } {
      Journal = lib.mapAttrs (
        _: value: if builtins.isList value then toString value else value
      ) config.services.journald.settings.Journal;
    };
  };
}
