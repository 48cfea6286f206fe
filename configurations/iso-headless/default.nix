# iso-headless: installer image with SSH on, the admins' keys authorised for
# root and no password anywhere. Build it with `deno task iso`.
{ lib, modulesPath, ... }:
let
  modules = import ../../modules/nixos/nixos-modules.nix;
  admins = import ../../lib/admins.nix;
in
{
  imports = [
    (modulesPath + "/installer/cd-dvd/installation-cd-minimal.nix")
    ./host-key-fingerprint.nix
    modules.mixin-firewall
    modules.mixin-known-hosts
    modules.mixin-nix
    modules.mixin-openssh
    modules.theme-console
  ];

  users.users.root.openssh.authorizedKeys.keys = lib.concatMap (admin: admin.sshKeys) (
    builtins.attrValues admins
  );

  # The installer profile sets PermitRootLogin "yes" (as a default) and empty
  # passwords for root and nixos; keys only here. mkForce is needed because
  # the installer's empty passwords are set at normal priority.
  services.openssh.settings.PermitRootLogin = "prohibit-password";
  users.users.root.initialHashedPassword = lib.mkForce "!";
  users.users.nixos.initialHashedPassword = lib.mkForce "!";

  # No system.stateVersion: an installer image is never installed and keeps no
  # state; the installer profile sets it to the image's own release.
}
