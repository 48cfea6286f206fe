# overlays: every overlay in overlays/overlays.nix. Each file is a function of
# the flake inputs returning an overlay (`{ inputs, ... }: final: prev: { }`).
# Also makes perSystem's `pkgs` nixpkgs with all of these overlays applied.
{ inputs, self, ... }:
{
  flake.overlays = builtins.mapAttrs (_name: path: import path { inherit inputs; }) (
    import ../../overlays/overlays.nix
  );

  perSystem =
    { system, ... }:
    {
      _module.args.pkgs = import inputs.nixpkgs {
        inherit system;
        overlays = builtins.attrValues self.overlays;
      };
    };
}
