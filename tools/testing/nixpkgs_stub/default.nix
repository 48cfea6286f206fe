# `import nixpkgs { system; overlays; }` for the stub: the fake package set of ./pkgs with
# the overlays applied, like nixpkgs' own entry point (config is accepted and ignored).
{
  system ? builtins.currentSystem,
  overlays ? [ ],
  config ? { },
  ...
}:
import ./pkgs {
  lib = import ./lib;
  inherit system overlays;
}
