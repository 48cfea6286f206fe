# A stand-in for nixpkgs for the update tool's tests: enough of nixpkgs' package-building API
# (callPackage, fetchers, stdenv.mkDerivation, buildGoModule, buildRustPackage, buildNpmPackage,
# buildPythonPackage) for real package files to evaluate and build, offline, against a local
# fake upstream. What it proves and where it differs from nixpkgs: see the README's "Updating".
#
# - Sources are fetched by nix itself, at the hash the file names: fetchurl/fetchPypi with
#   builtin:fetchurl (a fixed-output derivation, flat hash, like nixpkgs' fetchurl);
#   fetchzip/fetchFromGitHub/fetchFromGitLab with builtins.fetchTarball (the unpacked tree's
#   NAR hash with the single top folder stripped, which is what nixpkgs' fetchzip gives).
#   Every https URL is served by the fake upstream under <upstream>/<host>/<path>.
# - Dependency hashes (vendorHash, cargoHash, npmDepsHash) name a fixed-output derivation
#   whose output is the lock file of the source (go.sum, Cargo.lock, package-lock.json)
#   copied by /bin/sh: it changes when the source's lock file changes and its hash is learnt
#   and checked by nix like nixpkgs' vendor derivations, but its value is not nixpkgs' (which
#   hashes the vendored dependencies themselves).
# - A package builds by reading its source and dependencies; nothing is compiled.
{
  system,
  upstream,
  gitUpstream ? null,
}:
let
  lib = import ./lib.nix;
  # nixpkgs' mirror://pypi is https://files.pythonhosted.org/packages/source/.
  mirrors.pypi = "https://files.pythonhosted.org/packages/source/";
  resolve =
    url:
    let
      m = builtins.match "mirror://([a-z]+)/(.*)" url;
    in
    if m == null then url else "${mirrors.${builtins.elemAt m 0} or "mirror://${builtins.elemAt m 0}/"}${builtins.elemAt m 1}";
  mirror =
    url:
    let
      m = builtins.match "https?://([^/]+)/(.*)" (resolve url);
    in
    if m == null then url else "${upstream}/${builtins.elemAt m 0}/${builtins.elemAt m 1}";
  hashOf =
    args:
    args.hash or args.outputHash or args.sha256 or args.sha512 or args.sha1
      or (throw "fetcher: no hash given");
  # What nixpkgs' builders return besides the derivation.
  dummy = name: {
    inherit name;
    pname = name;
    version = "0";
    type = "derivation";
    outPath = "/nonexistent/${name}";
    meta = { };
    passthru = { };
    __functor = self: _: self;
  };

  fetchurl =
    args@{
      url ? builtins.head args.urls,
      name ? baseNameOf url,
      ...
    }:
    (import <nix/fetchurl.nix> (
      {
        url = mirror url;
        inherit name;
      }
      // builtins.intersectAttrs {
        hash = null;
        sha256 = null;
        sha512 = null;
        sha1 = null;
      } args
    ))
    // {
      # As nixpkgs' fetchurl: the URLs as the file gives them (the fetch goes to the mirror).
      urls = [ url ];
      inherit url;
    };

  fetchzip =
    args@{
      url ? builtins.head args.urls,
      name ? "source",
      passthru ? { },
      ...
    }:
    let
      hash = hashOf args;
    in
    {
      inherit name url;
      urls = [ url ];
      outputHash = hash;
      outputHashMode = "recursive";
      outPath = builtins.fetchTarball {
        inherit name;
        url = mirror url;
        sha256 = hash;
      };
    }
    // passthru;

  # nixpkgs' fetchgit: a fixed-output derivation that clones the repository with git, checks
  # out the rev (a commit, or a tag or branch name), with fetchSubmodules its submodules too,
  # and keeps the tree without .git; its hash is the tree's (recursive). Here git is the
  # machine's /usr/bin/git (nix's sandbox is off), and an https URL is cloned from the local
  # git upstream `gitUpstream` (a folder holding <host>/<path>.git) with file://.
  # leaveDotGit and deepClone are not modelled (nixpkgs makes the kept .git deterministic).
  fetchgit =
    args@{
      url,
      rev ? null,
      tag ? null,
      name ? "source",
      fetchSubmodules ? true,
      leaveDotGit ? false,
      deepClone ? false,
      ...
    }:
    let
      ref = if tag != null then "refs/tags/${tag}" else rev;
      m = builtins.match "https?://(.*)" url;
      gitUrl = if m == null || gitUpstream == null then url else "file://${gitUpstream}/${builtins.head m}";
      drv = derivation {
        inherit name system gitUrl ref;
        submodules = if fetchSubmodules then "1" else "";
        builder = "/bin/sh";
        args = [
          "-c"
          ''
            export HOME="$TMPDIR" GIT_CONFIG_NOSYSTEM=1 PATH=/usr/bin:/bin
            git() { /usr/bin/git -c protocol.file.allow=always -c advice.detachedHead=false "$@"; }
            git clone -q "$gitUrl" "$TMPDIR/checkout" || exit 1
            cd "$TMPDIR/checkout"
            git checkout -q "$ref" || exit 1
            if [ -n "$submodules" ]; then git submodule -q update --init --recursive || exit 1; fi
            find . -name .git -prune -exec rm -rf {} +
            cp -r . "$out"
          ''
        ];
        outputHashMode = "recursive";
        outputHashAlgo = "sha256";
        outputHash = hashOf args;
      };
    in
    drv
    // {
      inherit
        name
        url
        fetchSubmodules
        leaveDotGit
        deepClone
        ;
      rev = ref;
      outPath =
        if leaveDotGit || deepClone then
          throw "the update stand-in's fetchgit does not model leaveDotGit or deepClone"
        else
          drv.outPath;
    }
    // (if tag != null then { inherit tag; } else { });

  # nixpkgs' fetchFromGitHub (also fetchFromGitea's, with githubBase = domain): fetchzip of
  # the archive, or fetchgit with fetchSubmodules, leaveDotGit, deepClone or forceFetchGit.
  fetchFromGitHub =
    args@{
      owner,
      repo,
      tag ? null,
      rev ? null,
      name ? "source",
      githubBase ? "github.com",
      fetchSubmodules ? false,
      leaveDotGit ? null,
      deepClone ? false,
      forceFetchGit ? false,
      ...
    }:
    let
      ref = if tag != null then "refs/tags/${tag}" else rev;
      useFetchGit = fetchSubmodules || leaveDotGit == true || deepClone || forceFetchGit;
      kept = { inherit owner repo githubBase; };
    in
    if useFetchGit then
      fetchgit {
        inherit
          name
          tag
          rev
          fetchSubmodules
          deepClone
          ;
        leaveDotGit = leaveDotGit == true;
        url = "https://${githubBase}/${owner}/${repo}.git";
        hash = hashOf args;
      }
      // kept
    else
      fetchzip {
        inherit name;
        url = "https://${githubBase}/${owner}/${repo}/archive/${ref}.tar.gz";
        hash = hashOf args;
        passthru = kept // {
          inherit tag;
          rev = if tag != null then "refs/tags/${tag}" else rev;
          gitRepoUrl = "https://${githubBase}/${owner}/${repo}.git";
        };
      }
      // (if tag != null then { inherit tag; } else { });

  fetchFromGitea = args@{ domain, ... }:
    fetchFromGitHub (builtins.removeAttrs args [ "domain" ] // { githubBase = domain; });

  # nixpkgs' fetchCrate: the crate's .tar.gz from crates.io, unpacked.
  fetchCrate =
    args@{
      pname,
      version,
      crateName ? pname,
      ...
    }:
    fetchzip {
      name = "${crateName}-${version}.tar.gz";
      url = "https://crates.io/api/v1/crates/${crateName}/${version}/download";
      hash = hashOf args;
    };

  fetchFromGitLab =
    args@{
      owner,
      repo,
      rev ? null,
      tag ? null,
      name ? "source",
      domain ? "gitlab.com",
      ...
    }:
    let
      ref = if tag != null then tag else rev;
      # nixpkgs' fetchFromGitLab (pkgs/build-support/fetchgitlab): the API's archive URL, the
      # slug's `.` and `/` and the ref's `+`, `%`, `/` escaped.
      slug = builtins.replaceStrings [ "." "/" ] [ "%2E" "%2F" ] "${owner}/${repo}";
      escapedRef = builtins.replaceStrings [ "+" "%" "/" ] [ "%2B" "%25" "%2F" ] ref;
    in
    fetchzip {
      inherit name;
      url = "https://${domain}/api/v4/projects/${slug}/repository/archive.tar.gz?sha=${escapedRef}";
      hash = hashOf args;
      passthru = {
        inherit owner repo tag rev;
        gitRepoUrl = "https://${domain}/${owner}/${repo}.git";
      };
    };

  fetchPypi =
    args@{
      pname,
      version,
      extension ? "tar.gz",
      ...
    }:
    fetchurl (
      {
        url = "mirror://pypi/${builtins.substring 0 1 pname}/${pname}/${pname}-${version}.${extension}";
      }
      // builtins.intersectAttrs {
        hash = null;
        sha256 = null;
        sha512 = null;
      } args
    );

  # The dependency derivation of a builder: the source's lock file, fixed-output.
  lockFileDeps =
    {
      name,
      src,
      file,
      hash,
    }:
    derivation {
      inherit name system src;
      builder = "/bin/sh";
      args = [
        "-c"
        ''
          if [ -d "$src" ]; then dir="$src"; else echo "source is not a folder" >&2; exit 1; fi
          if [ ! -e "$dir/${file}" ]; then echo "the source has no ${file}" >&2; exit 1; fi
          while IFS= read -r line; do echo "$line"; done < "$dir/${file}" > $out
        ''
      ];
      outputHashMode = "recursive";
      outputHashAlgo = "sha256";
      outputHash = hash;
    };

  depsAttrs = [
    "goModules"
    "cargoDeps"
    "npmDeps"
  ];

  mkDerivation =
    fOrAttrs:
    let
      args = if builtins.isFunction fOrAttrs then fOrAttrs final else fOrAttrs;
      final = args // {
        finalPackage = result;
      };
      name = args.name or "${args.pname}-${args.version}";
      deps = builtins.filter (d: d != null) (map (a: args.${a} or null) depsAttrs);
      drv = derivation {
        inherit name system;
        src = args.src;
        deps = deps;
        builder = "/bin/sh";
        args = [
          "-c"
          ''
            if [ -d "$src" ]; then read -r marker < "$src/marker"; else marker="file $src"; fi
            echo "$marker" > $out
            for d in $deps; do read -r line < "$d"; echo "$line" >> $out; done
          ''
        ];
      };
      passthru = args.passthru or { };
      result =
        drv
        // passthru
        // {
          inherit passthru;
          inherit (args) src;
          meta = args.meta or { };
        }
        // (if args ? version then { inherit (args) version; } else { })
        // (if args ? pname then { inherit (args) pname; } else { })
        // builtins.listToAttrs (
          map (a: {
            name = a;
            value = args.${a};
          }) (builtins.filter (a: (args.${a} or null) != null) depsAttrs)
        );
    in
    result;

  # A builder that adds a dependency derivation (attr) from a hash argument.
  withDeps =
    {
      attr,
      hashArgs,
      file,
      refuse ? { },
    }:
    fOrAttrs:
    mkDerivation (
      final:
      let
        args = if builtins.isFunction fOrAttrs then fOrAttrs final else fOrAttrs;
        refused = builtins.filter (a: args ? ${a}) (builtins.attrNames refuse);
        given = builtins.filter (a: args ? ${a}) hashArgs;
        hash = if given == [ ] then null else args.${builtins.head given};
      in
      if refused != [ ] then
        throw refuse.${builtins.head refused}
      else
        args
        // {
          ${attr} =
            if hash == null then
              null
            else
              lockFileDeps {
                name = "${args.pname or args.name}-${args.version or ""}-${attr}";
                inherit (args) src;
                inherit file hash;
              };
        }
    );

  buildGoModule = withDeps {
    attr = "goModules";
    hashArgs = [ "vendorHash" ];
    file = "go.sum";
    refuse.modSha256 = "buildGoModule: modSha256 is no longer supported by nixpkgs; use vendorHash";
    refuse.vendorSha256 = "buildGoModule: vendorSha256 is no longer supported by nixpkgs; use vendorHash";
  };
  buildRustPackage = withDeps {
    attr = "cargoDeps";
    hashArgs = [
      "cargoHash"
      "cargoSha256"
    ];
    file = "Cargo.lock";
  };
  buildNpmPackage = withDeps {
    attr = "npmDeps";
    hashArgs = [ "npmDepsHash" ];
    file = "package-lock.json";
  };
  # nixpkgs' testers, as far as --test needs: hasPkgConfigModules builds a check of the
  # package. Here the check reads the package's output: it fails when the output does not
  # name the package's version (a package built from the wrong source).
  testers = {
    hasPkgConfigModules =
      { package, ... }:
      derivation {
        name = "${package.pname or package.name}-check";
        inherit system;
        builder = "/bin/sh";
        args = [
          "-c"
          ''
            read -r line < ${package}
            case "$line" in
              *" ${package.version}") echo ok > $out ;;
              *) echo "check failed: the package says '$line', expected version ${package.version}" >&2; exit 1 ;;
            esac
          ''
        ];
      };
  };

  pythonPackages = {
    buildPythonPackage = mkDerivation;
    buildPythonApplication = mkDerivation;
    inherit fetchPypi;
    pythonOlder = _: false;
    pythonAtLeast = _: true;
    isPy3k = true;
    isPy36 = false;
  };

  pkgs = {
    inherit
      lib
      system
      fetchurl
      fetchzip
      fetchFromGitHub
      fetchFromGitLab
      fetchFromGitea
      fetchgit
      fetchCrate
      testers
      fetchPypi
      buildGoModule
      buildNpmPackage
      pkgs
      callPackage
      ;
    stdenv = {
      inherit mkDerivation lib;
      hostPlatform = {
        inherit system;
        isLinux = true;
        isDarwin = false;
        isStatic = false;
        is32bit = false;
        isFreeBSD = false;
      };
      isDarwin = false;
      isLinux = true;
    };
    stdenvNoCC = pkgs.stdenv;
    rustPlatform = {
      inherit buildRustPackage;
    };
    python3Packages = pythonPackages;
    python3 = dummy "python3" // {
      pkgs = pythonPackages;
    };
    nix-update-script = _: [ "nix-update" ];
  }
  // pythonPackages;

  # nixpkgs' callPackage: every argument from the package set, a stand-in for the rest.
  callPackage =
    fn: overrides:
    let
      f = if builtins.isFunction fn then fn else import fn;
      formals = builtins.functionArgs f;
      pick =
        name:
        if overrides ? ${name} then
          [ { inherit name; value = overrides.${name}; } ]
        else if pkgs ? ${name} then
          [ { inherit name; value = pkgs.${name}; } ]
        else if formals.${name} then
          [ ]
        else
          [ { inherit name; value = dummy name; } ];
    in
    f (builtins.listToAttrs (builtins.concatMap pick (builtins.attrNames formals)));
in
pkgs
