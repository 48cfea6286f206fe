# Shell scripts from the Prometheus community that write metrics (SMART, ZFS
# pools, md RAID, directory sizes) for the node exporter's textfile collector.
{
  lib,
  stdenvNoCC,
  fetchFromGitHub,
  makeWrapper,
  coreutils,
  findutils,
  gawk,
  gnugrep,
  gnused,
  mdadm,
  smartmontools,
  util-linux,
}:
let
  # Each script with the programs it calls, read from the scripts at `rev`.
  # Left out: pacman.sh and yum.sh (other distributions' package managers) and
  # node_os_info.sh (for systems without /etc/os-release; it exits at once on
  # NixOS). directory-size.sh names `sponge` only in a usage comment.
  # zfs_zpool.sh calls zpool and zfs, which come from the host's PATH (the
  # wrapper only prepends): they must match the host's ZFS kernel module.
  scripts = {
    "directory-size.sh" = [
      coreutils
      gnused
    ];
    "fstab-check.sh" = [
      gawk
      util-linux
    ];
    "md_info.sh" = [ coreutils ];
    "md_info_detail.sh" = [
      coreutils
      gnugrep
      gnused
      mdadm
    ];
    "smartmon.sh" = [
      coreutils
      findutils
      gawk
      gnugrep
      gnused
      smartmontools
    ];
    "zfs_zpool.sh" = [ ];
  };
in
stdenvNoCC.mkDerivation {
  pname = "node-exporter-textfile-collector-scripts";
  version = "0-unstable-2026-04-20";

  src = fetchFromGitHub {
    owner = "prometheus-community";
    repo = "node-exporter-textfile-collector-scripts";
    rev = "01cecc3b6e09eb39f485dff9c61c26f4e3e8527c";
    # Computed with `nix hash path` over `git archive` of this commit (the
    # repository has no export attributes, so GitHub's tarball has the same
    # content); not yet confirmed by a fetch.
    hash = "sha256-iOB30Z6krNKTl2uAYZffHANQ8JeKR41Cfgrdy1ll77U=";
  };

  nativeBuildInputs = [ makeWrapper ];

  dontConfigure = true;
  dontBuild = true;

  # Only the shell scripts: the Python ones need libraries packaged separately.
  installPhase = ''
    runHook preInstall
    ${lib.concatStrings (
      lib.mapAttrsToList (script: programs: ''
        install -Dm755 ${script} $out/bin/${script}
        ${lib.optionalString (programs != [ ]) ''
          wrapProgram $out/bin/${script} --prefix PATH : ${lib.makeBinPath programs}
        ''}
      '') scripts
    )}
    runHook postInstall
  '';

  passthru.updateInfo = {
    source = "github";
    owner = "prometheus-community";
    repo = "node-exporter-textfile-collector-scripts";
    # Follow the default branch's newest commit (version 0-unstable-YYYY-MM-DD).
    track = "branch";
  };

  meta = {
    description = "Scripts that write metrics for the Prometheus node exporter's textfile collector";
    homepage = "https://github.com/prometheus-community/node-exporter-textfile-collector-scripts";
    license = lib.licenses.asl20;
    platforms = lib.platforms.linux;
  };
}
