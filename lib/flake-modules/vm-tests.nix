# checks: the NixOS VM tests of tests/vm (vm-<host>, vm-<host>-disks) of the hosts on each
# system. `nix flake check` builds and boots them on a machine with KVM.
{
  inputs,
  lib,
  self,
  ...
}:
{
  perSystem =
    { pkgs, system, ... }:
    {
      checks = import ../../tests/vm {
        inherit
          inputs
          lib
          pkgs
          self
          system
          ;
      };
    };
}
