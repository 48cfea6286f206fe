# Models nixos/modules/misc/documentation.nix and the small switches of
# nixos/modules/config/{fonts/fontconfig,xdg/*}.nix and programs/command-not-found.
{ lib, ... }:
{
  options = {
    documentation.enable = lib.mkOption {
      type = lib.types.bool;
      default = true;
    };
    documentation.dev.enable = lib.mkOption {
      type = lib.types.bool;
      default = false;
    };
    documentation.man.enable = lib.mkOption {
      type = lib.types.bool;
      default = true;
    };
    fonts.fontconfig.enable = lib.mkOption {
      type = lib.types.bool;
      default = true;
    };
    fonts.packages = lib.mkOption {
      type = lib.types.listOf lib.types.path;
      default = [ ];
    };
    xdg.autostart.enable = lib.mkOption {
      type = lib.types.bool;
      default = true;
    };
    # false in the version read (PROVENANCE.tsv: xdg.icons.enable).
    xdg.icons.enable = lib.mkOption {
      type = lib.types.bool;
      default = false;
    };
    xdg.mime.enable = lib.mkOption {
      type = lib.types.bool;
      default = true;
    };
    xdg.sounds.enable = lib.mkOption {
      type = lib.types.bool;
      default = true;
    };
    # false in the version read (PROVENANCE.tsv: programs.command-not-found.enable).
    programs.command-not-found.enable = lib.mkOption {
      type = lib.types.bool;
      default = false;
    };
  };
}
