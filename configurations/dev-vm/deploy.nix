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
  healthChecks = [ "systemctl is-system-running --wait" ];
  system = "x86_64-linux";
}
