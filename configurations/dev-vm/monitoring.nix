# Monitoring facts of dev-vm (read by lib/monitoring.nix): not scraped, and it says why.
{
  exempt = "a development VM on the developer's own machine, not on the fleet's network";
}
