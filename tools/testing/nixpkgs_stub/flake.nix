# A stand-in for nixpkgs in the offline evaluation test (tools/nix_eval_test.ts): nixpkgs'
# real `lib` (the test copies it into ./lib), a package set of fake derivations that are
# never built, and a `lib.nixosSystem` that evaluates the fleet's modules against typed
# declarations of the NixOS options it sets. Not a nixpkgs: nothing here builds.
{
  description = "Offline stand-in for nixpkgs: real lib, fake packages, modelled NixOS options";

  outputs =
    { self }:
    let
      baseLib = import ./lib;
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
    in
    {
      lib = baseLib.extend (
        final: _prev: {
          nixosSystem = import ./nixos/lib/eval-config.nix { lib = final; };
        }
      );
      legacyPackages = baseLib.genAttrs systems (system: import ./. { inherit system; });
    };
}
