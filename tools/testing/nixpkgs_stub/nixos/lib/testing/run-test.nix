# Models nixos/lib/testing (runTest) as pkgs.testers.runNixOSTest calls it, for the options the
# fleet's VM tests (tests/vm) set: name, nodes, defaults, node.specialArgs, node.pkgs (set by
# runNixOSTest to its own package set) and testScript (a string, or a function of `nodes`).
# Each node is evaluated like a NixOS system (the modelled modules, ./nixos-test-base.nix and
# the qemu-vm model) and the script is rendered with the nodes' configurations; the result is a
# fake derivation `vm-test-run-<name>` with `driver` (whose `testScript` is the rendered script,
# as upstream's driver derivation has it) and `nodes`. Nothing boots. Provenance: ./README.md.
{ lib, hostPkgs }:
testModule:
let
  inherit (lib) mkOption types;
  test = lib.evalModules {
    modules = [
      {
        options = {
          name = mkOption { type = types.str; };
          nodes = mkOption {
            type = types.lazyAttrsOf types.deferredModule;
            default = { };
          };
          defaults = mkOption {
            type = types.deferredModule;
            default = { };
          };
          node.pkgs = mkOption {
            type = types.nullOr types.raw;
            default = null;
          };
          node.specialArgs = mkOption {
            type = types.lazyAttrsOf types.raw;
            default = { };
          };
          testScript = mkOption {
            type = types.either types.str (types.functionTo types.str);
          };
        };
      }
      # pkgs/build-support/testers/default.nix: runNixOSTest sets node.pkgs to its package set.
      { node.pkgs = hostPkgs; }
      testModule
    ];
  };
  cfg = test.config;
  evalConfig = import ../eval-config.nix { inherit lib; };
  # Older drivers refuse a node name that is no Python name (nixos/lib/testing-python.nix);
  # newer ones rename it. The model takes the stricter rule.
  checkName =
    name:
    if builtins.match "[A-Za-z_][A-Za-z0-9_]*" name == null then
      throw "stub nixpkgs: NixOS test ${cfg.name}: node name `${name}` is not a Python name"
    else
      name;
  nodes = lib.mapAttrs (
    name: module:
    (evalConfig {
      inherit (cfg.node) specialArgs;
      modules = [
        ./nixos-test-base.nix
        ../../modules/virtualisation/qemu-vm.nix
        { virtualisation.test.nodeName = checkName name; }
        (lib.mkIf (cfg.node.pkgs != null) { nixpkgs.pkgs = cfg.node.pkgs; })
        cfg.defaults
        module
      ];
    }).config
  ) cfg.nodes;
  testScript =
    if lib.isFunction cfg.testScript then cfg.testScript { inherit nodes; } else cfg.testScript;
  driver = hostPkgs.runCommand "nixos-test-driver-${cfg.name}" {
    inherit testScript;
    vms = map (node: node.system.build.toplevel) (lib.attrValues nodes);
  } "echo 'stub nixpkgs: the NixOS test driver is a model' >&2; exit 1";
in
hostPkgs.mkDerivation {
  name = "vm-test-run-${cfg.name}";
  inherit driver;
  requiredSystemFeatures = [
    "kvm"
    "nixos-test"
  ];
  passthru = { inherit driver nodes; };
}
