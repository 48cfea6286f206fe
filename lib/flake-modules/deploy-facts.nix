# hosts: deployment facts of every host, from lib/hosts.nix (which reads
# configurations/<host>/deploy.nix for each host in the hosts index).
{ ... }:
{
  flake.hosts = import ../hosts.nix;
}
