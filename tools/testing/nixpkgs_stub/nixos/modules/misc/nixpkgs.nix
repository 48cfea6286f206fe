# Models nixos/modules/misc/nixpkgs.nix: nixpkgs.hostPlatform and nixpkgs.overlays make the
# modules' `pkgs` (here the stub's fake package set).
{ config, lib, ... }:
{
  options.nixpkgs = {
    hostPlatform = lib.mkOption {
      type = lib.types.either lib.types.str lib.types.attrs;
      apply = lib.systems.elaborate;
    };
    buildPlatform = lib.mkOption {
      type = lib.types.either lib.types.str lib.types.attrs;
      default = config.nixpkgs.hostPlatform;
      apply = lib.systems.elaborate;
    };
    overlays = lib.mkOption {
      type = lib.types.listOf (
        lib.mkOptionType {
          name = "nixpkgs-overlay";
          description = "nixpkgs overlay";
          check = lib.isFunction;
          merge = lib.mergeOneOption;
        }
      );
      default = [ ];
    };
    config = lib.mkOption {
      type = lib.types.attrs;
      default = { };
    };
  };

  config._module.args = {
    pkgs = import ../../../pkgs {
      inherit lib;
      inherit (config.nixpkgs.hostPlatform) system;
      inherit (config.nixpkgs) overlays;
    };
    utils = { };
  };
}
