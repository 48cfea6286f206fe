# programs.ssh.knownHosts entries for the hosts whose private key is a committed example
# (dev-vm): `programs.ssh.knownHosts = import ./lib/example-known-hosts.nix;` on the
# developer's own machine, which runs the VM. Never on a fleet host: the example key's
# private half is public, so anyone could answer as dev-vm there.
(import ./known-hosts.nix).examples
