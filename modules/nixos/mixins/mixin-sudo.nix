# sudo: for the wheel group only; nobody else may even execute the binary.
{ config, lib, ... }:
let
  wheel = lib.attrNames (
    lib.filterAttrs (
      name: user: name != "root" && (user.group == "wheel" || lib.elem "wheel" user.extraGroups)
    ) config.users.users
  );
  # Every wheel user can type a password on this host (mixin-passwords).
  wheelHasPasswords =
    wheel != [ ] && lib.all (user: lib.elem user config.devops.passwords.users) wheel;
in
{
  security.sudo = {
    enable = lib.mkDefault true;
    execWheelOnly = lib.mkDefault true;
    # Where every wheel user has a login password (workstations), sudo asks for
    # it: a session left unlocked at the desk, or a program the person runs, is
    # not root without it. Where they log in with SSH keys only (servers), they
    # have no password to type (users.mutableUsers is false), so a prompt would
    # lock them out: sudo asks nothing there, and the SSH key is the credential.
    # Deploys log in as root with keys and never use sudo.
    wheelNeedsPassword = lib.mkDefault wheelHasPasswords;
  };
}
