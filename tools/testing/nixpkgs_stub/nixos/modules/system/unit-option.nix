# Models `unitOption` of nixos/lib/systemd-unit-options.nix: a systemd setting's value, or
# a list of them.
{ lib }:
let
  inherit (lib) types;
  atom = types.oneOf [
    types.bool
    types.int
    types.str
    types.path
    types.package
  ];
in
types.either atom (types.listOf atom)
