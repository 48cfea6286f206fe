# Monitoring facts of desk1 (read by lib/monitoring.nix): scraped on its LAN address while it
# is at home. A workstation is often off or away, so it is `intermittent`: its absence raises
# no HostDown, while its other alerts (disk, units, backups, drift) fire whenever it is up.
{
  interface = "enp5s0";
  address = "192.0.2.20";
  presence = "intermittent";
  smart = true;
}
