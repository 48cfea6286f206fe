# Fake derivations: real `builtins.derivation`s (so names, hashes and string contexts are
# checked as nix checks them, and `drvPath` can be taken) whose builder always fails.
{ lib, system }:
let
  # Attributes a derivation can take as environment variables; the rest (functions,
  # plain attribute sets such as meta or passthru) stay on the result only.
  envValue =
    value:
    builtins.isString value
    || builtins.isBool value
    || builtins.isInt value
    || builtins.isPath value
    || value == null
    || lib.isDerivation value
    || (builtins.isList value && builtins.all envValue value);

  # Like stdenv.mkDerivation: takes attributes or `finalAttrs: attributes`.
  mkDerivation =
    argsOrFun:
    let
      args = if builtins.isFunction argsOrFun then lib.fix argsOrFun else argsOrFun;
      name = args.name or "${args.pname}-${args.version}";
      env = lib.filterAttrs (
        attr: value:
        envValue value
        && !(builtins.elem attr [
          "name"
          "system"
          "builder"
          "args"
          "outputs"
        ])
      ) args;
      drv = builtins.derivation (
        env
        // {
          inherit name system;
          builder = "/bin/sh";
          args = [
            "-c"
            "echo 'stub nixpkgs: ${name} is a fake derivation, it cannot be built' >&2; exit 1"
          ];
        }
      );
      meta = {
        mainProgram = args.pname or name;
      }
      // (args.meta or { });
    in
    drv
    // (args.passthru or { })
    // {
      inherit meta;
      pname = args.pname or name;
      version = args.version or "0";
      passthru = args.passthru or { };
      overrideAttrs =
        change:
        let
          changed = if builtins.isFunction change then change args else change;
          more = if builtins.isFunction changed then changed args else changed;
        in
        mkDerivation (args // more);
      override = _: mkDerivation args;
    };

  # A fixed-output derivation like fetchFromGitHub's: its SRI hash must be well formed.
  mkSource =
    {
      name ? "source",
      hash,
      ...
    }@args:
    builtins.derivation {
      inherit name system hash;
      builder = "/bin/sh";
      args = [
        "-c"
        "exit 1"
      ];
      outputHash = hash;
      outputHashMode = "recursive";
      url = args.url or "";
    };

  # A package the fleet names: pname, version, meta.mainProgram.
  package =
    pname:
    mkDerivation {
      inherit pname;
      version = "0-stub";
    };
in
{
  inherit mkDerivation mkSource package;
}
