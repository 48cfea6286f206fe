# Models nixos/modules/config/sysctl.nix: boot.kernel.sysctl (each value unique, so two
# different values at one priority fail) and nixpkgs' own defaults, at their priority.
{ lib, ... }:
let
  sysctlValue = lib.mkOptionType {
    name = "sysctl option value";
    check =
      value:
      let
        atom = x: builtins.isBool x || builtins.isString x || builtins.isInt x || x == null;
      in
      atom value || (value._type or "" == "override" && atom value.content);
    merge = loc: defs: lib.mergeOneOption loc (lib.filterOverrides defs);
  };
in
{
  options.boot.kernel.sysctl = lib.mkOption {
    type = lib.types.submodule {
      freeformType = lib.types.attrsOf sysctlValue;
      options."net.core.rmem_max" = lib.mkOption {
        type = lib.types.nullOr lib.types.ints.unsigned;
        default = null;
      };
      options."net.core.wmem_max" = lib.mkOption {
        type = lib.types.nullOr lib.types.ints.unsigned;
        default = null;
      };
    };
    default = { };
  };

  # Upstream's definitions, at upstream's priority (mkDefault): those of release-26.05 and
  # the newer ones of nixos-unstable, so that the mixins stay clear of both.
  config.boot.kernel.sysctl = {
    "kernel.kptr_restrict" = lib.mkDefault 1;
    "vm.max_map_count" = lib.mkDefault 1048576;
    "fs.inotify.max_user_instances" = lib.mkDefault 524288;
    "fs.inotify.max_user_watches" = lib.mkDefault 524288;
    "fs.protected_fifos" = lib.mkDefault 2;
    "fs.protected_hardlinks" = lib.mkDefault 1;
    "fs.protected_regular" = lib.mkDefault 2;
    "fs.protected_symlinks" = lib.mkDefault 1;
  };
}
