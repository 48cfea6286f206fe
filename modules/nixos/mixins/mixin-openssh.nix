# OpenSSH server: public keys only, and one ed25519 host key at a fixed path
# (sops-nix derives the host's age key from it).
{ lib, ... }:
{
  services.openssh = {
    enable = lib.mkDefault true;
    openFirewall = lib.mkDefault true;
    settings = {
      PasswordAuthentication = lib.mkDefault false;
      KbdInteractiveAuthentication = lib.mkDefault false;
      PermitRootLogin = lib.mkDefault "prohibit-password";
      X11Forwarding = lib.mkDefault false;
    };
    # No RSA host key: the ed25519 key is the host's identity in the repository.
    hostKeys = lib.mkDefault [
      {
        path = "/etc/ssh/ssh_host_ed25519_key";
        type = "ed25519";
      }
    ];
  };
}
