# programs.ssh.knownHosts entries for every host in the hosts index that has a
# configurations/<host>/ssh_host_ed25519_key.pub, pinned to it. Pure data, no inputs.
# The installer image has no fixed key (it makes a new one at every boot), so no pin.
# A host whose folder holds its private key (dev-vm's committed example key) is not
# pinned on the fleet: anyone can read that key, so a pin to it would let any local
# user of a fleet host impersonate that host there. The developer's own machine pins it
# through lib/example-known-hosts.nix.
let
  index = import ../configurations/nixos-configurations.nix;
  hosts = import ./hosts.nix;
  # OpenSSH writes a non-default port as "[address]:port" in known_hosts.
  hostName =
    facts: if facts.port == 22 then facts.address else "[${facts.address}]:${toString facts.port}";
  keyFile = dir: dir + "/ssh_host_ed25519_key.pub";
  exampleKey = dir: builtins.pathExists (dir + "/example_ssh_host_ed25519_key");
  entry = host: {
    hostNames = [
      host
      (hostName hosts.${host})
    ];
    publicKeyFile = keyFile index.${host};
  };
  withKey = builtins.filter (host: builtins.pathExists (keyFile index.${host})) (
    builtins.attrNames index
  );
  pins = hostList: builtins.listToAttrs (map (host: { name = host; value = entry host; }) hostList);
in
{
  # The fleet's pins: hosts with a fixed key whose private half is not committed.
  fleet = pins (builtins.filter (host: !exampleKey index.${host}) withKey);
  # Hosts whose private key is a committed example (dev-vm): for a developer's machine only.
  examples = pins (builtins.filter (host: exampleKey index.${host}) withKey);
}
