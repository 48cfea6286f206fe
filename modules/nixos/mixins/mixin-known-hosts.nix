# SSH known hosts: every fleet host pinned to its
# configurations/<host>/ssh_host_ed25519_key.pub, read through the hosts index.
# dev-vm's example key is not pinned here (see lib/known-hosts.nix).
{ ... }:
{
  programs.ssh.knownHosts = (import ../../../lib/known-hosts.nix).fleet;
}
