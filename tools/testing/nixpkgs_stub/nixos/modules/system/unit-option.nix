# Models `unitOption` of nixos/lib/systemd-unit-options.nix (PROVENANCE.tsv: systemd.services.<name>.serviceConfig):
# the type "systemd option" with no check; definitions that include a list are concatenated
# (repeatable settings), otherwise all must be equal.
{ lib }:
lib.mkOptionType {
  name = "systemd option";
  merge =
    loc: defs:
    let
      kept = lib.filterOverrides defs;
    in
    if builtins.any (def: builtins.isList def.value) kept then
      lib.concatMap (def: lib.toList def.value) kept
    else
      lib.mergeEqualOption loc kept;
}
