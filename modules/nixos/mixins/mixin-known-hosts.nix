# SSH known hosts: every fleet host pinned to its
# configurations/<host>/ssh_host_ed25519_key.pub, read through the hosts index.
{ ... }:
{
  programs.ssh.knownHosts = import ../../../lib/known-hosts.nix;
}
