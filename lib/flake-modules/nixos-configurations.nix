# nixosConfigurations: one NixOS system per host in
# configurations/nixos-configurations.nix, built from configurations/<host>/.
{ inputs, self, ... }:
let
  inherit (inputs.nixpkgs) lib;
  hosts = import ../../configurations/nixos-configurations.nix;
  facts = import ../hosts.nix;
in
{
  flake.nixosConfigurations = lib.mapAttrs (
    host: dir:
    lib.nixosSystem {
      # Hosts may use other flakes' modules, e.g. inputs.nixos-hardware.
      specialArgs = { inherit inputs; };
      modules = [
        inputs.disko.nixosModules.disko
        inputs.sops-nix.nixosModules.sops
        dir
        # Named by its file, so that an evaluation's error messages and option
        # definitions point here (tools/testing/fleet_options.nix counts it as the fleet's).
        (lib.setDefaultModuleLocation ./nixos-configurations.nix {
          networking.hostName = lib.mkDefault host;
          nixpkgs.hostPlatform = lib.mkDefault facts.${host}.system;
          nixpkgs.overlays = builtins.attrValues self.overlays;
        })
      ];
    }
  ) hosts;
}
