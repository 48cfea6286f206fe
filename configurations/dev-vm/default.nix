# dev-vm: development VM for `nixos-rebuild build-vm --flake .#dev-vm`, with
# the guest's SSH port forwarded to port 2222 on the machine running it.
{ lib, ... }:
let
  modules = import ../../modules/nixos/nixos-modules.nix;
in
{
  imports = [
    modules.profile-devhost
    modules.hardware-qemu-guest
  ];

  # The disk of an installed dev-vm; build-vm mounts its own disk image instead.
  fileSystems."/" = {
    device = "/dev/disk/by-label/nixos";
    fsType = "ext4";
  };

  # EXAMPLE host key, public on purpose (see README.md): its public half is
  # ssh_host_ed25519_key.pub, so pinned known_hosts and sops work in the VM.
  environment.etc."ssh/ssh_host_ed25519_key" = {
    source = ./example_ssh_host_ed25519_key;
    mode = "0600";
  };
  # Decrypt secrets/dev-vm.yaml with the example key itself, which is already
  # in the store, rather than wait for /etc to be populated.
  sops.age.sshKeyPaths = lib.mkForce [ ./example_ssh_host_ed25519_key ];
  sops.secrets.example-secret = { };

  virtualisation.vmVariant = {
    virtualisation = {
      memorySize = 4096;
      cores = 4;
      # Serial console in the terminal that started the VM.
      graphics = false;
      forwardPorts = [
        {
          from = "host";
          host.port = 2222;
          guest.port = 22;
        }
      ];
    };
    # The VM is for local development: log in on the console without a key.
    services.getty.autologinUser = "admin";
  };

  system.stateVersion = "25.11";
}
