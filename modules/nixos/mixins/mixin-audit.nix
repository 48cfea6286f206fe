# Kernel audit rules for privilege use and system changes on every host: sudo and su runs by
# people (login uid ≥ 1000), and writes under /etc and the Nix system profiles. The kernel's
# audit records reach the journal (journald reads them), so they travel with the logs to the
# monitoring host: `journalctl --directory /var/log/journal/remote _TRANSPORT=audit`. Needs a
# kernel with audit; containers have none (see README).
{ lib, ... }:
{
  security.audit = {
    enable = lib.mkDefault true;
    rules = [
      "-a always,exit -F path=/run/wrappers/bin/sudo -F perm=x -F auid>=1000 -F auid!=unset -k privilege"
      "-a always,exit -F path=/run/wrappers/bin/su -F perm=x -F auid>=1000 -F auid!=unset -k privilege"
      "-w /etc -p wa -k etc-change"
      "-w /nix/var/nix/profiles -p wa -k profile-change"
    ];
  };
}
