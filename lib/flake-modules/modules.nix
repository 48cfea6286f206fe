# nixosModules, homeModules and sharedModules: the module indexes under
# modules/nixos/, modules/home/ and modules/shared/, exported as they are.
{ ... }:
{
  flake = {
    nixosModules = import ../../modules/nixos/nixos-modules.nix;
    homeModules = import ../../modules/home/home-modules.nix;
    sharedModules = import ../../modules/shared/shared-modules.nix;
  };
}
