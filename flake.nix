# devops-at-home: the NixOS fleet, its modules, packages, shells and checks.
{
  description = "devops-at-home: a NixOS fleet with small, tested chores";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";
    nixpkgs-unstable.url = "github:NixOS/nixpkgs/nixos-unstable";
    flake-parts = {
      url = "github:hercules-ci/flake-parts";
      inputs.nixpkgs-lib.follows = "nixpkgs";
    };
    disko = {
      url = "github:nix-community/disko";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    sops-nix = {
      url = "github:Mic92/sops-nix";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    devshell = {
      url = "github:numtide/devshell";
      inputs.nixpkgs.follows = "nixpkgs";
    };
    nixos-hardware = {
      url = "github:NixOS/nixos-hardware";
      # Its nixpkgs is only for its own tests; the modules hosts import use ours.
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs =
    inputs:
    let
      fleet = inputs.flake-parts.lib.mkFlake { inherit inputs; } {
        systems = [
          "x86_64-linux"
          "aarch64-linux"
        ];
        imports = [
          ./lib/flake-modules/checks.nix
          ./lib/flake-modules/deploy-facts.nix
          ./lib/flake-modules/disko-configurations.nix
          ./lib/flake-modules/formatter.nix
          ./lib/flake-modules/modules.nix
          ./lib/flake-modules/nixos-configurations.nix
          ./lib/flake-modules/overlays.nix
          ./lib/flake-modules/packages.nix
          ./lib/flake-modules/shells.nix
          ./lib/flake-modules/vm-tests.nix
        ];
      };
    in
    # The outputs are named one by one, not `fleet // { ... }`, so that selecting
    # `hosts` does not force flake-parts: `nix eval --json .#hosts` then reads
    # plain data from lib/hosts.nix and fetches no input beyond the lock file.
    {
      inherit (fleet)
        checks
        devShells
        diskoConfigurations
        formatter
        homeModules
        nixosConfigurations
        nixosModules
        overlays
        packages
        sharedModules
        ;
      hosts = import ./lib/hosts.nix;
    };
}
