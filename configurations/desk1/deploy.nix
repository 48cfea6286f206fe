# Deployment facts of desk1 (example workstation).
{
  deployable = true;
  address = "192.0.2.20";
  port = 22;
  user = "root";
  tags = [ "workstation" ];
  buildOn = "local";
  confirmTimeout = 30;
  # Every deploy also checks that no systemd unit failed since its activation.
  healthChecks = [ ];
  system = "x86_64-linux";
}
