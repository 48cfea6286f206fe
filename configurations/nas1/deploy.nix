# Deployment facts of nas1 (example storage server).
{
  deployable = true;
  address = "192.0.2.10";
  port = 22;
  user = "root";
  tags = [
    "server"
    "storage"
  ];
  buildOn = "local";
  confirmTimeout = 30;
  # Every deploy also checks that no systemd unit failed since its activation.
  healthChecks = [ "zpool status -x" ];
  system = "x86_64-linux";
}
