# checks: every host's system toplevel (on the host's own system), every
# package, and a formatting check that runs nixfmt over the tree.
{ lib, self, ... }:
{
  perSystem =
    {
      pkgs,
      self',
      system,
      ...
    }:
    let
      # The deploy facts name each host's system without evaluating the host.
      facts = import ../hosts.nix;
      hostsOnThisSystem = lib.filterAttrs (
        host: _nixos: facts.${host}.system == system
      ) self.nixosConfigurations;
    in
    {
      checks =
        lib.mapAttrs' (
          host: nixos: lib.nameValuePair "host-${host}" nixos.config.system.build.toplevel
        ) hostsOnThisSystem
        // lib.mapAttrs' (name: package: lib.nameValuePair "package-${name}" package) self'.packages
        // {
          # Fails when any .nix file differs from nixfmt's output.
          formatting = pkgs.runCommand "formatting" { nativeBuildInputs = [ pkgs.nixfmt ]; } ''
            cd ${self}
            find . -type f -name '*.nix' -print0 | xargs -0 nixfmt --check
            touch $out
          '';
        };
    };
}
