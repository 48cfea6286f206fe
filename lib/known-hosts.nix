# programs.ssh.knownHosts entries for every host in the hosts index that has a
# configurations/<host>/ssh_host_ed25519_key.pub, pinned to it. Pure data, no inputs.
# The installer image has no fixed key (it makes a new one at every boot), so no pin.
let
  index = import ../configurations/nixos-configurations.nix;
  hosts = import ./hosts.nix;
  # OpenSSH writes a non-default port as "[address]:port" in known_hosts.
  hostName =
    facts: if facts.port == 22 then facts.address else "[${facts.address}]:${toString facts.port}";
in
let
  keyFile = dir: dir + "/ssh_host_ed25519_key.pub";
  pinned = builtins.filter (host: builtins.pathExists (keyFile index.${host})) (
    builtins.attrNames index
  );
in
builtins.listToAttrs (
  map (host: {
    name = host;
    value = {
      hostNames = [
        host
        (hostName hosts.${host})
      ];
      publicKeyFile = keyFile index.${host};
    };
  }) pinned
)
