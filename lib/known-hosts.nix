# programs.ssh.knownHosts entries for every host in the hosts index, pinned to
# configurations/<host>/ssh_host_ed25519_key.pub. Pure data, no inputs.
let
  index = import ../configurations/nixos-configurations.nix;
  hosts = import ./hosts.nix;
  # OpenSSH writes a non-default port as "[address]:port" in known_hosts.
  hostName =
    facts: if facts.port == 22 then facts.address else "[${facts.address}]:${toString facts.port}";
in
builtins.mapAttrs (host: dir: {
  hostNames = [
    host
    (hostName hosts.${host})
  ];
  publicKeyFile = dir + "/ssh_host_ed25519_key.pub";
}) index
