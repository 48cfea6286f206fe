# Deployment facts of dev-vm: a local VM, not deployed unless asked.
{
  deployable = false;
  address = "127.0.0.1";
  port = 2222;
  user = "root";
  tags = [
    "dev"
    "vm"
  ];
  buildOn = "local";
  confirmTimeout = 30;
  # Every deploy also checks that no systemd unit failed since its activation.
  healthChecks = [ ];
  system = "x86_64-linux";
}
