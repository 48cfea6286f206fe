# Brute-force blocking on every host that accepts SSH: fail2ban's sshd jail (nixpkgs enables
# it with the journal as its source) bans an address after lib/security.nix's number of failed
# logins, through nftables (the fleet's firewall; nixpkgs picks nftables-multiport then). The
# admins' networks are never banned.
{ config, lib, ... }:
let
  security = import ../../../lib/security.nix;
in
{
  config = lib.mkIf config.services.openssh.enable {
    services.fail2ban = {
      enable = lib.mkDefault true;
      maxretry = security.sshMaxRetry;
      bantime = security.banTime;
      ignoreIP = security.adminNetworks;
      bantime-increment.enable = true;
      jails.sshd.settings.findtime = security.findTime;
    };
  };
}
