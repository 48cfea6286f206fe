# Models nixos/modules/tasks/filesystems.nix and config/swap.nix: fileSystems, swapDevices
# and boot.supportedFilesystems (a list is coerced to an attribute set of booleans).
{ lib, ... }:
let
  inherit (lib) mkOption types;
  # Upstream's own checked string types (PROVENANCE.tsv: fileSystems.<name>.device).
  addCheckDesc =
    desc: elemType: check:
    types.addCheck elemType check // { description = "${elemType.description} (with check: ${desc})"; };
  nonEmptyStr = addCheckDesc "non-empty" types.str (s: builtins.match "[ \t\n]*" s == null);
  fileSystem = types.submodule (
    { name, ... }:
    {
      options = {
        mountPoint = mkOption {
          type = types.nonEmptyStr;
          default = name;
        };
        device = mkOption {
          type = types.nullOr nonEmptyStr;
          default = null;
        };
        label = mkOption {
          type = types.nullOr types.str;
          default = null;
        };
        fsType = mkOption {
          type = nonEmptyStr;
          default = "auto";
        };
        options = mkOption {
          type = types.nonEmptyListOf nonEmptyStr;
          default = [ "defaults" ];
        };
        depends = mkOption {
          type = types.listOf types.nonEmptyStr;
          default = [ ];
        };
        neededForBoot = mkOption {
          type = types.bool;
          default = false;
        };
        noCheck = mkOption {
          type = types.bool;
          default = false;
        };
      };
    }
  );
  fsSet = types.coercedTo (types.listOf types.str) (
    names: lib.genAttrs names (_: true)
  ) (types.attrsOf types.bool);
in
{
  options = {
    fileSystems = mkOption {
      type = types.attrsOf fileSystem;
      default = { };
    };
    swapDevices = mkOption {
      type = types.listOf (
        types.submodule {
          options = {
            device = mkOption { type = types.nonEmptyStr; };
            size = mkOption {
              type = types.nullOr types.int;
              default = null;
            };
            priority = mkOption {
              type = types.nullOr types.int;
              default = null;
            };
            discardPolicy = mkOption {
              type = types.nullOr (
                types.enum [
                  "once"
                  "pages"
                  "both"
                ]
              );
              default = null;
            };
            options = mkOption {
              type = types.listOf types.nonEmptyStr;
              default = [ "defaults" ];
            };
          };
        }
      );
      default = [ ];
    };
    boot.supportedFilesystems = mkOption {
      type = fsSet;
      default = { };
    };
    boot.initrd.supportedFilesystems = mkOption {
      type = fsSet;
      default = { };
    };
  };
}
