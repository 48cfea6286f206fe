# Models nixos/modules/misc/nixpkgs.nix: nixpkgs.hostPlatform and nixpkgs.overlays make the
# modules' `pkgs` (here the stub's fake package set); nixpkgs.pkgs, when set (the NixOS test
# framework sets it to node.pkgs), is the modules' `pkgs` and gives the host platform.
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
    pkgs = lib.mkOption {
      type = lib.types.nullOr lib.types.raw;
      default = null;
    };
  };

  config.nixpkgs.hostPlatform = lib.mkIf (config.nixpkgs.pkgs != null) (
    lib.mkDefault config.nixpkgs.pkgs.stdenv.hostPlatform.system
  );

  config._module.args = {
    pkgs =
      if config.nixpkgs.pkgs != null then
        config.nixpkgs.pkgs
      else
        import ../../../pkgs {
          inherit lib;
          inherit (config.nixpkgs.hostPlatform) system;
          inherit (config.nixpkgs) overlays;
        };
    utils = { };
  };
}
