# Nix daemon: flakes, trusted admins, store optimisation and garbage collection.
{ lib, ... }:
{
  nix = {
    settings = {
      # Lists are not wrapped in mkDefault: a host's own entries add to them.
      experimental-features = [
        "nix-command"
        "flakes"
      ];
      # Deploys copy closures as root or as an admin in wheel.
      trusted-users = [
        "root"
        "@wheel"
      ];
      auto-optimise-store = lib.mkDefault true;
      # Build what can be built when one derivation fails; build locally when
      # a substituter is unreachable.
      keep-going = lib.mkDefault true;
      fallback = lib.mkDefault true;
      connect-timeout = lib.mkDefault 5;
    };
    # NixOS 26.05 names the switch `automatic` (services/misc/nix-gc.nix); `nix.gc.enable`
    # is only an open upstream proposal and does not exist there.
    gc = {
      automatic = lib.mkDefault true;
      dates = lib.mkDefault "weekly";
      options = lib.mkDefault "--delete-older-than 30d";
    };
    # Flakes only: no channels, so `nix-channel` cannot drift from the lock file.
    channel.enable = lib.mkDefault false;
  };
}
