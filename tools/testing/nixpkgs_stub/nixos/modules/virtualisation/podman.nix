# Models nixos/modules/virtualisation/podman/default.nix: what the devhost profile sets.
{ lib, ... }:
let
  inherit (lib) mkOption types;
in
{
  options.virtualisation.podman = {
    enable = lib.mkEnableOption "Podman";
    dockerCompat = lib.mkEnableOption "the docker command as an alias of podman";
    defaultNetwork.settings = mkOption {
      # Upstream: (pkgs.formats.json { }).type, described "JSON value".
      type =
        let
          valueType =
            types.nullOr (
              types.oneOf [
                types.bool
                types.int
                types.float
                types.str
                types.path
                (types.attrsOf valueType)
                (types.listOf valueType)
              ]
            )
            // {
              description = "JSON value";
            };
        in
        valueType;
      default = { };
    };
  };
}
