# Deployment facts of every host: configurations/<host>/deploy.nix for each host
# in the hosts index. Pure data, no inputs: `nix eval --json -f lib/hosts.nix`.
let
  index = import ../configurations/nixos-configurations.nix;
in
builtins.mapAttrs (_host: dir: import (dir + "/deploy.nix")) index
