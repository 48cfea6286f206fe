# Models the boot options the fleet sets: nixos/modules/system/boot/kernel.nix,
# loader/systemd-boot/systemd-boot.nix, loader/efi.nix, systemd/initrd.nix, tmp.nix,
# luksroot.nix and loader/grub (only what disko reads).
{ lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
  bool =
    default:
    mkOption {
      type = types.bool;
      inherit default;
    };
  strings = mkOption {
    type = types.listOf types.str;
    default = [ ];
  };
in
{
  options.boot = {
    kernelPackages = mkOption {
      type = types.raw;
      default = {
        kernel = pkgs.mkDerivation {
          pname = "linux";
          version = "6.12";
        };
      };
    };
    kernelParams = mkOption {
      type = types.listOf (
        types.strMatching ''([^"[:space:]]|"[^"]*")+''
        // {
          name = "kernelParam";
        }
      );
      default = [ ];
    };
    kernelModules = strings;
    blacklistedKernelModules = strings;
    extraModulePackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };
    initrd = {
      availableKernelModules = strings;
      kernelModules = strings;
      systemd.enable = bool false;
      luks.devices = mkOption {
        type = types.attrsOf (
          types.submodule (
            { name, ... }:
            {
              options = {
                name = mkOption {
                  type = types.str;
                  default = name;
                };
                device = mkOption { type = types.str; };
                allowDiscards = bool false;
                bypassWorkqueues = bool false;
                keyFile = mkOption {
                  type = types.nullOr types.str;
                  default = null;
                };
                keyFileSize = mkOption {
                  type = types.nullOr types.int;
                  default = null;
                };
                keyFileOffset = mkOption {
                  type = types.nullOr types.int;
                  default = null;
                };
                preLVM = bool true;
                crypttabExtraOpts = strings;
              };
            }
          )
        );
        default = { };
      };
    };
    loader = {
      systemd-boot = {
        enable = bool false;
        configurationLimit = mkOption {
          type = types.nullOr types.int;
          default = null;
        };
        editor = bool true;
      };
      efi.canTouchEfiVariables = bool false;
      grub.enable = bool false;
      grub.efiSupport = bool false;
      grub.devices = strings;
    };
    tmp.cleanOnBoot = bool false;
  };
}
