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
  modulesPath = ../modules;
in
lib.evalModules {
  class = "nixos";
  specialArgs = {
    inherit modulesPath;
  }
  // specialArgs;
  modules = import ../modules/module-list.nix ++ modules;
}
