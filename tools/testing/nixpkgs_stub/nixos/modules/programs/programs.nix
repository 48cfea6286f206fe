# Models nixos/modules/programs/{ssh,git,direnv,firefox}.nix: what the fleet sets.
{ lib, ... }:
let
  inherit (lib) mkOption types;
  bool = mkOption {
    type = types.bool;
    default = false;
  };
in
{
  options.programs = {
    git.enable = bool;
    direnv.enable = bool;
    firefox.enable = bool;
    ssh.knownHosts = mkOption {
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
              certAuthority = bool;
              hostNames = mkOption {
                type = types.listOf types.str;
                default = [ name ] ++ config.extraHostNames;
                defaultText = lib.literalExpression "[ ${name} ] ++ config.${options.extraHostNames}";
              };
              publicKey = mkOption {
                type = types.nullOr types.str;
                default = null;
              };
              publicKeyFile = mkOption {
                type = types.nullOr types.path;
                default = null;
              };
              extraHostNames = mkOption {
                type = types.listOf types.str;
                default = [ ];
              };
            };
          }
        )
      );
      default = { };
    };
  };
}
