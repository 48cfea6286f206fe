# sshto: a dialog menu of the hosts in ~/.ssh/config with common actions.
{
  lib,
  stdenvNoCC,
  fetchFromGitHub,
  makeWrapper,
  coreutils,
  dialog,
  gawk,
  gnugrep,
  gnused,
  openssh,
  rsync,
}:
stdenvNoCC.mkDerivation {
  pname = "sshto";
  version = "0-unstable-2026-01-23";

  src = fetchFromGitHub {
    owner = "vaniacer";
    repo = "sshto";
    rev = "1eb51f406049f33ee18d62120c9646cc376e9327";
    # Computed with `nix hash path` over `git archive` of this commit (the
    # repository has no export attributes, so GitHub's tarball has the same
    # content); not yet confirmed by a fetch.
    hash = "sha256-HRDIey6WU/35FJPPezhrUA28wWF/fhsLaLSJXCCzrlw=";
  };

  nativeBuildInputs = [ makeWrapper ];

  dontConfigure = true;
  dontBuild = true;

  installPhase = ''
    runHook preInstall
    install -Dm755 sshto $out/bin/sshto
    wrapProgram $out/bin/sshto --prefix PATH : ${
      lib.makeBinPath [
        coreutils
        dialog
        gawk
        gnugrep
        gnused
        openssh
        rsync
      ]
    }
    runHook postInstall
  '';

  passthru.updateInfo = {
    source = "github";
    owner = "vaniacer";
    repo = "sshto";
    # Follow the default branch's newest commit (version 0-unstable-YYYY-MM-DD).
    track = "branch";
  };

  meta = {
    description = "Menu of the hosts in ~/.ssh/config with commands to run on them";
    homepage = "https://github.com/vaniacer/sshto";
    license = lib.licenses.mit;
    platforms = lib.platforms.unix;
    mainProgram = "sshto";
  };
}
