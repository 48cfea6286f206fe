# Deployment facts of iso-headless: an installer image, never deployed to.
{
  deployable = false;
  address = "192.0.2.99";
  port = 22;
  user = "root";
  tags = [ "installer" ];
  buildOn = "local";
  confirmTimeout = 30;
  # Every deploy also checks that no systemd unit failed since its activation.
  healthChecks = [ ];
  system = "x86_64-linux";
}
