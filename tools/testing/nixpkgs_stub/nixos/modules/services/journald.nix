# Models nixos/modules/system/boot/systemd/journald.nix (rows in ../../../PROVENANCE.tsv).
#
# 26.05: the options storage, rateLimitInterval, rateLimitBurst, console, audit,
# forwardToSyslog and extraConfig; journald.conf is written from them.
#
# 26.11pre: NixOS/nixpkgs#536538 (merged after the 26.05 branch-off) replaced them with the
# freeform services.journald.settings.Journal: storage, rateLimitInterval, rateLimitBurst,
# forwardToSyslog and audit are renamed into it; console and extraConfig are removed (an
# assertion names them).
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  release = import ../../../release.nix;
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
  cfg = config.services.journald;
  release2605 = {
    options.services.journald = {
      console = mkOption {
        type = types.str;
        default = "";
      };
      rateLimitInterval = mkOption {
        type = types.str;
        default = "30s";
      };
      storage = mkOption {
        type = types.enum [
          "persistent"
          "volatile"
          "auto"
          "none"
        ];
        default = "persistent";
      };
      rateLimitBurst = mkOption {
        type = types.int;
        default = 10000;
      };
      audit = mkOption {
        type = types.oneOf [
          types.bool
          (types.enum [ "keep" ])
        ];
        default = "keep";
      };
      extraConfig = mkOption {
        type = types.lines;
        default = "";
      };
      forwardToSyslog = mkOption {
        type = types.bool;
        default = false;
      };
    };
    config.environment.etc."systemd/journald.conf".text = ''
      [Journal]
      Storage=${cfg.storage}
      RateLimitInterval=${cfg.rateLimitInterval}
      RateLimitBurst=${toString cfg.rateLimitBurst}
      ${lib.optionalString (cfg.console != "") ''
        ForwardToConsole=yes
        TTYPath=${cfg.console}
      ''}
      ${lib.optionalString cfg.forwardToSyslog ''
        ForwardToSyslog=yes
      ''}
      Audit=${if builtins.isBool cfg.audit then (if cfg.audit then "yes" else "no") else cfg.audit}
      ${cfg.extraConfig}
    '';
  };
  unstable = {
    imports = [
      (renamed "storage" "Storage")
      (renamed "rateLimitInterval" "RateLimitIntervalSec")
      (renamed "rateLimitBurst" "RateLimitBurst")
      (renamed "forwardToSyslog" "ForwardToSyslog")
      (renamed "audit" "Audit")
      (lib.mkRemovedOptionModule [
        "services"
        "journald"
        "console"
      ] "Use services.journald.settings.Journal.ForwardToConsole and services.journald.settings.Journal.TTYPath instead.")
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
    config.environment.etc."systemd/journald.conf".text = lib.generators.toINI { } {
      Journal = lib.mapAttrs (
        _: value: if builtins.isList value then toString value else value
      ) cfg.settings.Journal;
    };
  };
in
if release == "26.05" then release2605 else unstable
