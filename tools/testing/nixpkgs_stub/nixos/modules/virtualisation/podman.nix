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
      # Upstream: (pkgs.formats.json { }).type, a JSON value.
      type = types.attrsOf types.anything;
      default = { };
    };
  };
}
