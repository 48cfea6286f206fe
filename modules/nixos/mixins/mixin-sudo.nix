# sudo: for the wheel group only; nobody else may even execute the binary.
{ lib, ... }:
{
  security.sudo = {
    enable = lib.mkDefault true;
    execWheelOnly = lib.mkDefault true;
    # Admins log in with SSH keys and have no password (users.mutableUsers is
    # false), so a password prompt would lock them out.
    wheelNeedsPassword = lib.mkDefault false;
  };
}
