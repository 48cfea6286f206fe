# Firewall: inbound traffic denied by default. Services open their own ports
# (openFirewall) and hosts open ports per interface
# (networking.firewall.interfaces.<name>.allowedTCPPorts).
{ lib, ... }:
{
  networking.nftables.enable = lib.mkDefault true;
  networking.firewall = {
    enable = lib.mkDefault true;
    allowPing = lib.mkDefault true;
    # Refused connections from the internet would flood the journal.
    logRefusedConnections = lib.mkDefault false;
  };
}
