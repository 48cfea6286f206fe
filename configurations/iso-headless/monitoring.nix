# Monitoring facts of iso-headless (read by lib/monitoring.nix): not scraped, and it says why.
{
  exempt = "an installer image; the machine it installs is monitored as its own host";
}
