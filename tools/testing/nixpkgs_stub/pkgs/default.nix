# The stub package set: every package name the fleet and its input flakes use, each a fake
# derivation (./fake.nix), and the builders they call. A name missing here fails the
# evaluation with "attribute '<name>' missing", as a misspelt package would in nixpkgs.
{
  lib,
  system,
  overlays ? [ ],
}:
let
  fake = import ./fake.nix { inherit lib system; };
  inherit (fake) mkDerivation package;

  platform = lib.systems.elaborate system;

  stdenv = {
    inherit mkDerivation system;
    hostPlatform = platform;
    buildPlatform = platform;
    targetPlatform = platform;
    inherit (platform) isLinux isDarwin;
    shell = "/bin/sh";
    cc = package "cc";
  };

  # Packages, by the name the fleet or an input flake uses.
  packageNames = [
    "age"
    "bash"
    "bash-language-server"
    "bashInteractive"
    "coreutils"
    "curl"
    "deno"
    "dialog"
    "fail2ban"
    "fd"
    "findutils"
    "gawk"
    "git"
    "gnugrep"
    "gnumake"
    "gnupg"
    "gnused"
    "go"
    "helix"
    "honcho"
    "htop"
    "jq"
    "kopia"
    "makeWrapper"
    "marksman"
    "mdadm"
    "mkpasswd"
    "nil"
    "netcat"
    "nix"
    "nixfmt"
    "nixos-anywhere"
    "noto-fonts"
    "noto-fonts-color-emoji"
    "openssh"
    "postgresql_16"
    "postgresql_17"
    "postgresql_18"
    "pre-commit"
    "ripgrep"
    "rsync"
    "smartmontools"
    "sops"
    "ssh-to-age"
    "systemd"
    "terminus_font"
    "typescript-language-server"
    "util-linux"
    "yaml-language-server"
    "zfs"
  ];

  base =
    self:
    lib.genAttrs packageNames package
    // {
      inherit lib stdenv mkDerivation;
      stdenvNoCC = stdenv;
      path = ../.;
      pkgs = self;
      pkgsBuildHost = self;
      buildPackages = self;

      # nixos-rebuild on 26.05 is the Python rewrite, pkgs.nixos-rebuild-ng. Provenance (NixOS/
      # nixpkgs read through a public code index, 2026-12-06):
      # - nixos/doc/manual/release-notes/rl-2605.section.md at 0014e824 (the 26.05 notes, which
      #   exist only from that cycle): "The Bash implementation of the `nixos-rebuild` program is
      #   removed. All switchable systems now use the Python rewrite." (pull request 466809,
      #   "nixos-rebuild: remove", opened 2025-12-01, before the branch-off on 2026-05-24).
      # - pkgs/by-name/ni/nixos-rebuild-ng/package.nix at 063639b2 (a version of unknown date):
      #   arguments nix, withNgSuffix ? true, withReexec ? false, withShellFiles ? true; the
      #   program is `nixos-rebuild-ng` unless withNgSuffix is false.
      # - nixos/modules/installer/tools/tools.nix, two versions: at 00630c27 (25.11: enableNg
      #   defaults to true, with a warning that the Bash one "will be … removed in the 26.05
      #   release") and one after the removal (the index shows no commit; it has the
      #   removed-option module for system.rebuild.enableNg that rl-2605 names). In both,
      #   NixOS's own nixos-rebuild is `pkgs.nixos-rebuild-ng.override { withNgSuffix = false; … }`.
      # Whether a top-level `nixos-rebuild` alias exists on 26.05 was not read here, so the dev
      # shell does not rely on one. Upstream's arguments, so an override naming another fails.
      nixos-rebuild-ng = lib.makeOverridable (
        {
          nix ? self.nix,
          withNgSuffix ? true,
          withReexec ? false,
          withShellFiles ? true,
        }:
        mkDerivation {
          pname = "nixos-rebuild-ng";
          version = "0.0.0";
          propagatedBuildInputs = [ nix ];
          inherit withReexec withShellFiles;
          meta.mainProgram = if withNgSuffix then "nixos-rebuild-ng" else "nixos-rebuild";
        }
      ) { };

      # The NixOS test driver's entry point (tests/vm); a model: ../nixos/lib/testing/README.md.
      testers.runNixOSTest = import ../nixos/lib/testing/run-test.nix {
        inherit lib;
        hostPkgs = self;
      };

      # nixpkgs' default major version; overlays/postgresql-16.nix pins it to 16.
      postgresql = self.postgresql_17;

      # callPackage gives each argument of the function from the package set and fails
      # on a name the set lacks, like nixpkgs' callPackage.
      callPackage =
        fn: overrides:
        let
          f = if builtins.isFunction fn then fn else import fn;
          wanted = builtins.functionArgs f;
          given = builtins.intersectAttrs wanted self // overrides;
          required = lib.filterAttrs (_name: optional: !optional) wanted;
          missing = builtins.attrNames (removeAttrs required (builtins.attrNames given));
        in
        if missing != [ ] then
          throw "stub nixpkgs: callPackage needs ${toString missing}, which the stub package set lacks"
        else
          f given;

      fetchFromGitHub =
        {
          owner,
          repo,
          rev ? null,
          tag ? null,
          hash,
          ...
        }:
        let
          ref = if rev != null then rev else tag;
        in
        fake.mkSource {
          inherit hash;
          url = "https://github.com/${owner}/${repo}/archive/${ref}.tar.gz";
        };

      buildGo125Module = self.buildGoModule;
      buildGoModule =
        args:
        mkDerivation (
          args
          // {
            goModules = fake.mkSource {
              name = "${args.pname}-go-modules";
              hash = args.vendorHash;
            };
          }
        );

      mkShell =
        args:
        mkDerivation (
          {
            name = "nix-shell";
          }
          // args
        );

      runCommand =
        name: env: buildCommand:
        mkDerivation (env // { inherit name buildCommand; });
      runCommandLocal = self.runCommand;

      writeTextFile =
        {
          name,
          text,
          executable ? false,
          destination ? "",
          checkPhase ? "",
          ...
        }:
        mkDerivation {
          inherit
            name
            text
            executable
            destination
            checkPhase
            ;
        };
      writeText = name: text: self.writeTextFile { inherit name text; };
      writeScript =
        name: text:
        self.writeTextFile {
          inherit name text;
          executable = true;
        };
      writeScriptBin =
        name: text:
        self.writeTextFile {
          inherit name text;
          executable = true;
          destination = "/bin/${name}";
        };
      writeShellScript = name: text: self.writeScript name text;
      writeShellScriptBin = name: text: self.writeScriptBin name text;
      writeShellApplication =
        {
          name,
          text,
          runtimeInputs ? [ ],
          ...
        }:
        self.writeTextFile {
          inherit name text;
          executable = true;
          destination = "/bin/${name}";
          checkPhase = lib.makeBinPath runtimeInputs;
        };
      symlinkJoin =
        { name, paths, ... }:
        mkDerivation {
          inherit name paths;
        };
      buildEnv =
        { name, paths, ... }:
        mkDerivation {
          inherit name paths;
        };
    };
in
lib.fix (lib.extends (lib.composeManyExtensions overlays) base)
