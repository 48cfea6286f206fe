# The fleet's brute-force blocking, as data (no nixpkgs): read by mixin-bruteforce on every
# host and by the tests that run the real fail2ban with the same values.
{
  # Networks the admins connect from: never banned (fail2ban's ignoreip). Replace the
  # documentation prefix with your own addresses (home LAN, VPN, office).
  adminNetworks = [ "192.0.2.0/24" ];

  # An address with this many failed SSH logins within `findTime` is banned for `banTime`
  # (repeat offenders longer: fail2ban's bantime increment).
  sshMaxRetry = 5;
  findTime = "10m";
  banTime = "1h";
}
