# Models nixos/modules/system/etc/etc.nix and config/system-path.nix, shells-environment.nix:
# environment.etc, environment.systemPackages and environment.variables.
{ lib, pkgs, ... }:
let
  inherit (lib) mkOption types;
in
{
  options.environment = {
    etc = mkOption {
      type = types.attrsOf (
        types.submodule (
          {
            name,
            config,
            options,
            ...
          }:
          {
            options = {
              enable = mkOption {
                type = types.bool;
                default = true;
              };
              target = mkOption {
                type = types.str;
                default = name;
              };
              text = mkOption {
                type = types.nullOr types.lines;
                default = null;
              };
              source = mkOption { type = types.path; };
              mode = mkOption {
                type = types.str;
                default = "symlink";
              };
              user = mkOption {
                type = types.str;
                default = "+0";
              };
              group = mkOption {
                type = types.str;
                default = "+0";
              };
            };
            config.source = lib.mkIf (config.text != null) (
              lib.mkDerivedConfig options.text (
                pkgs.writeText "etc-${lib.replaceStrings [ "/" ] [ "-" ] name}"
              )
            );
          }
        )
      );
      default = { };
    };
    systemPackages = mkOption {
      type = types.listOf types.package;
      default = [ ];
    };
    variables = mkOption {
      type = types.attrsOf (
        types.oneOf [
          (types.listOf (
            types.oneOf [
              types.int
              types.str
              types.path
            ]
          ))
          types.int
          types.str
          types.path
        ]
      );
      default = { };
    };
  };
}
