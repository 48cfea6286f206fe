# diskoConfigurations: each host's disk layout from
# configurations/disko-configurations.nix, for disko and nixos-anywhere.
{ ... }:
{
  flake.diskoConfigurations = builtins.mapAttrs (_host: import) (
    import ../../configurations/disko-configurations.nix
  );
}
