# Models nixos/tests/make-test-python.nix, which disko's installTest (its lib/tests.nix,
# makeDiskoTest) calls as `makeTest args { pkgs; system; }`: the result is a fake derivation
# `vm-test-run-<name>` with `driver` and `nodes`. Unlike ../lib/testing/run-test.nix the model
# evaluates neither the nodes nor the script (disko's script builds its installer's disk
# scripts, which the stub's package set does not model); tools/nix_eval_test.ts checks the
# host configuration the installed system is made from instead. Provenance: ../lib/testing/README.md.
f:
{
  pkgs,
  ...
}@args:
let
  t = if pkgs.lib.isFunction f then f (args // { inherit (pkgs) lib; }) else f;
  driver =
    pkgs.runCommand "nixos-test-driver-${t.name}" { }
      "echo 'stub nixpkgs: the NixOS test driver is a model' >&2; exit 1";
in
pkgs.mkDerivation {
  name = "vm-test-run-${t.name}";
  inherit driver;
  requiredSystemFeatures = [
    "kvm"
    "nixos-test"
  ];
  passthru = { inherit driver; };
}
