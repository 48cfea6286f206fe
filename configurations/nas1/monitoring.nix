# Monitoring facts of nas1 (read by lib/monitoring.nix): the monitoring host scrapes its
# exporters at `address`, which sits on `interface`, the only interface their ports open on.
{
  interface = "enp1s0";
  # nas1's fixed LAN address on enp1s0 (its deploy address).
  address = "192.0.2.10";
  # A server: down is an alert.
  presence = "always";
  # SATA disks in the pool: smartctl_exporter reports their SMART health.
  smart = true;
  # TLS endpoints nas1 serves, as "name:port", for the monitoring host to probe (expiry and
  # a verified handshake); none in the example.
  tlsEndpoints = [ ];
  # The fleet's monitoring host: Prometheus, Alertmanager and the journal receiver run here,
  # and every other host ships its journal here.
  monitoringHost = true;
}
