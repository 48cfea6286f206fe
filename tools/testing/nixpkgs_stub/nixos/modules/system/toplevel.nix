# Models nixos/modules/system/activation/top-level.nix: system.build.toplevel fails on a
# failed assertion and shows the warnings, like upstream's. Its stand-in for the system's
# files is every declared NixOS option's value, forced deeply and written into the
# (never built) derivation, so that what upstream would write into /etc and the unit files
# is evaluated: type errors, priority clashes and store paths all surface here.
{
  config,
  options,
  lib,
  pkgs,
  ...
}:
let
  # Options whose values are not part of the system itself: whole other NixOS
  # evaluations (the VM variants, evaluated on their own), the build outputs, the
  # assertions and warnings (checked below) and the input flakes' own namespaces (what
  # they do for the system goes through the NixOS options they set).
  skipped = [
    [ "_module" ]
    [ "assertions" ]
    [ "warnings" ]
    [
      "system"
      "build"
    ]
    [
      "virtualisation"
      "vmVariant"
    ]
    [
      "virtualisation"
      "vmVariantWithDisko"
    ]
    [ "disko" ]
    [ "sops" ]
    # The package set itself (set by the NixOS test framework): not a value the system holds.
    [
      "nixpkgs"
      "pkgs"
    ]
    # Written into /etc only while their service is enabled (journald-remote.nix forces them
    # there), as upstream does: a required key unset on a host that does not use them is fine.
    [
      "services"
      "journald"
      "upload"
      "settings"
    ]
    [
      "services"
      "journald"
      "remote"
      "settings"
    ]
  ];

  # A value as the system's files would hold it: a derivation or a path becomes its store
  # path (a path is copied into the store, as NixOS does for a path it uses).
  render =
    value:
    if lib.isDerivation value then
      "${value}"
    else if builtins.isPath value then
      "${value}"
    else if builtins.isFunction value then
      "<function>"
    else if builtins.isAttrs value then
      builtins.mapAttrs (_: render) value
    else if builtins.isList value then
      map render value
    else
      value;

  values =
    path: tree:
    if builtins.elem path skipped then
      null
    else if lib.isOption tree then
      (if tree.isDefined then render tree.value else null)
    else if builtins.isAttrs tree then
      builtins.mapAttrs (name: values (path ++ [ name ])) tree
    else
      null;

  failedAssertions = map (x: x.message) (builtins.filter (x: !x.assertion) config.assertions);
  failures = lib.concatMapStrings (message: "\n- ${message}") failedAssertions;

  system = pkgs.mkDerivation {
    name = "nixos-system-${config.networking.hostName}";
    configuration = builtins.toJSON (values [ ] options);
  };
in
{
  options.system = {
    build = lib.mkOption {
      type = lib.types.submoduleWith {
        modules = [ { freeformType = lib.types.lazyAttrsOf lib.types.unspecified; } ];
      };
      default = { };
    };
    # misc/version.nix: the release of the nixpkgs evaluated (here the lib snapshot's).
    stateVersion = lib.mkOption {
      type = lib.types.str;
      default = lib.trivial.release;
      defaultText = lib.literalExpression "config.system.nixos.release";
    };
    activationScripts = lib.mkOption {
      type = lib.types.attrsOf (
        lib.types.either lib.types.str (
          lib.types.submodule {
            options = {
              deps = lib.mkOption {
                type = lib.types.listOf lib.types.str;
                default = [ ];
              };
              text = lib.mkOption { type = lib.types.lines; };
              supportsDryActivation = lib.mkOption {
                type = lib.types.bool;
                default = false;
              };
            };
          }
        )
      );
      default = { };
    };
  };

  config.system.build.toplevel =
    if failedAssertions != [ ] then
      throw "\nFailed assertions:${failures}"
    else
      lib.showWarnings config.warnings system;
}
