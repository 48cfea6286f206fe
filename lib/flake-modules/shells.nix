# devShells: numtide devshells from shells/numtide-devshells.nix and plain
# mkShell shells from shells/shells.nix. `nix develop` opens the nixos shell.
{ inputs, lib, ... }:
{
  imports = [ inputs.devshell.flakeModule ];

  perSystem =
    { config, pkgs, ... }:
    {
      devshells = builtins.mapAttrs (_name: path: { imports = [ path ]; }) (
        import ../../shells/numtide-devshells.nix
      );

      devShells =
        lib.mapAttrs (_name: path: pkgs.callPackage path { }) (import ../../shells/shells.nix)
        // {
          default = config.devshells.nixos.devshell.shell;
        };
    };
}
