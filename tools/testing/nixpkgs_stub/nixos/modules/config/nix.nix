# Models nixos/modules/config/nix.nix, services/system/nix-daemon.nix, services/misc/nix-gc.nix
# and config/nix-channel.nix: nix.settings (typed where upstream types a setting), nix.gc
# and nix.channel.enable (rows in ../../../PROVENANCE.tsv).
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  confAtom =
    types.nullOr (
      types.oneOf [
        types.bool
        types.int
        types.float
        types.str
        types.path
        types.package
      ]
    )
    // {
      description = "Nix config atom (null, bool, int, float, str, path or package)";
    };
in
{
  options.nix = {
    enable = mkOption {
      type = types.bool;
      default = true;
    };
    settings = mkOption {
      type = types.submodule {
        freeformType = types.attrsOf (types.either confAtom (types.listOf confAtom));
        options = {
          max-jobs = mkOption {
            type = types.either types.int (types.enum [ "auto" ]);
            default = "auto";
          };
          auto-optimise-store = mkOption {
            type = types.bool;
            default = false;
          };
          cores = mkOption {
            type = types.int;
            default = 0;
          };
          sandbox = mkOption {
            type = types.either types.bool (types.enum [ "relaxed" ]);
            default = true;
          };
          substituters = mkOption { type = types.listOf types.str; };
          trusted-substituters = mkOption {
            type = types.listOf types.str;
            default = [ ];
          };
          trusted-public-keys = mkOption { type = types.listOf types.str; };
          trusted-users = mkOption { type = types.listOf types.str; };
          system-features = mkOption { type = types.listOf types.str; };
          allowed-users = mkOption {
            type = types.listOf types.str;
            default = [ "*" ];
          };
        };
      };
      default = { };
    };
    # services/misc/nix-gc.nix. `automatic` in 26.05 and, as far as could be read, in
    # 26.11pre too: the rename to `nix.gc.enable` (NixOS/nixpkgs#453642) is an open pull
    # request, in neither.
    gc = {
      automatic = mkOption {
        type = types.bool;
        default = false;
      };
      dates = mkOption {
        type = types.singleLineStr;
        default = "03:15";
      };
      randomizedDelaySec = mkOption {
        type = types.singleLineStr;
        default = "0";
      };
      persistent = mkOption {
        type = types.bool;
        default = true;
      };
      options = mkOption {
        type = types.singleLineStr;
        default = "";
      };
    };
    channel.enable = mkOption {
      type = types.bool;
      default = true;
    };
  };

  # Upstream (config/nix.nix) declares these settings without a default and defines them in
  # its config at normal priority, so a host's list adds to them; system-features at mkDefault.
  config.nix.settings = lib.mkIf config.nix.enable {
    trusted-public-keys = [ "cache.nixos.org-1:6NCHdD59X431o0gWypbMrAURkbJ16ZPMQFGspcDShjY=" ];
    trusted-users = [ "root" ];
    substituters = lib.mkAfter [ "https://cache.nixos.org/" ];
    system-features = lib.mkDefault [
      "nixos-test"
      "benchmark"
      "big-parallel"
      "kvm"
    ];
  };
}
