# Plain shell for continuous integration: only what the tests run.
{
  mkShell,
  age,
  deno,
  git,
  openssh,
  pre-commit,
  sops,
  ssh-to-age,
}:
mkShell {
  packages = [
    age
    deno
    git
    openssh
    pre-commit
    sops
    ssh-to-age
  ];
}
