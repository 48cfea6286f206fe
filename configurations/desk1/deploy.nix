# Deployment facts of desk1 (example workstation).
{
  deployable = true;
  address = "192.0.2.20";
  port = 22;
  user = "root";
  tags = [ "workstation" ];
  buildOn = "local";
  confirmTimeout = 30;
  healthChecks = [ "systemctl is-system-running --wait" ];
  system = "x86_64-linux";
}
