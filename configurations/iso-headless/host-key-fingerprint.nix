# Shows the installer's SSH host key fingerprint on the console at boot, so
# the person at the machine can compare it with what `deno task install`
# shows before any disk is erased (the installer makes its key at boot).
{ lib, pkgs, ... }:
{
  systemd.services.installer-host-key-fingerprint = {
    description = "Show the SSH host key fingerprint on the console";
    wantedBy = [ "multi-user.target" ];
    # sshd's start makes the host keys (in sshd-keygen.service or sshd's preStart).
    after = [ "sshd.service" ];
    path = [
      pkgs.coreutils
      pkgs.openssh
    ];
    serviceConfig = {
      Type = "oneshot";
      StandardOutput = "journal+console";
    };
    script = ''
      key=/etc/ssh/ssh_host_ed25519_key.pub
      for _ in $(seq 60); do
        [ -e "$key" ] && break
        sleep 1
      done
      echo "SSH host key of this installer (compare with deno task install):"
      ssh-keygen -l -f "$key"
    '';
  };

  # The installer profile's help text says root and nixos have empty
  # passwords; here they have none (see default.nix). mkForce: the profile
  # sets it at normal priority and the option concatenates.
  services.getty.helpLine = lib.mkForce ''
    No passwords: log in over SSH as root with an admin's key.
    Host key fingerprint: ssh-keygen -l -f /etc/ssh/ssh_host_ed25519_key.pub
  '';
}
