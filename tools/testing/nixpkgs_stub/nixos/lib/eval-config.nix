# lib.nixosSystem of the stub: lib.evalModules over the caller's modules and the modelled
# NixOS modules of ../modules/module-list.nix. Like nixpkgs' own, it takes `modules` and
# `specialArgs`, gives `modulesPath`, and returns the evaluation (config, options, …).
{ lib }:
{
  modules ? [ ],
  specialArgs ? { },
  ...
}:
let
  # A string, as upstream's `builtins.toString ../modules`: interpolating it (disko's
  # "''${modulesPath}/../tests/make-test-python.nix") must not copy the folder alone.
  modulesPath = builtins.toString ../modules;
in
lib.evalModules {
  class = "nixos";
  specialArgs = {
    inherit modulesPath;
  }
  // specialArgs;
  modules = import ../modules/module-list.nix ++ modules;
}
