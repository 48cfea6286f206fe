# packages: every pkgs/<name>/package.nix, called with callPackage. pkgs/ has no
# index file: its folders are listed with builtins.readDir (one package each).
{ lib, ... }:
let
  folders = lib.filterAttrs (_name: type: type == "directory") (builtins.readDir ../../pkgs);
in
{
  perSystem =
    { pkgs, ... }:
    {
      packages = lib.mapAttrs (
        name: _type: pkgs.callPackage (../../pkgs + "/${name}/package.nix") { }
      ) folders;
    };
}
