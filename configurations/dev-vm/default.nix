# dev-vm: development VM for `nixos-rebuild build-vm --flake .#dev-vm`, with
# the guest's SSH port forwarded to port 2222 of the machine running it (on
# 127.0.0.1 only). Its host key is given at run time (see README.md).
{ lib, ... }:
let
  modules = import ../../modules/nixos/nixos-modules.nix;
  # Where the VM sees the folder that holds its host key.
  vmKeys = "/mnt/dev-vm-keys";
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

  sops.secrets.example-secret = { };

  virtualisation.vmVariant = {
    virtualisation = {
      # The host key is never a Nix path (that would copy it, world-readable,
      # into /nix/store): the VM mounts $DEV_VM_KEYS, by default the ignored
      # folder .data/dev-vm-keys/ of the folder the VM is started in.
      sharedDirectories.host-keys = {
        source = ''"''${DEV_VM_KEYS:-$PWD/.data/dev-vm-keys}"'';
        target = vmKeys;
      };
      memorySize = 4096;
      cores = 4;
      # Serial console in the terminal that started the VM.
      graphics = false;
      forwardPorts = [
        {
          from = "host";
          # Only this machine can reach the VM's SSH server.
          host.address = "127.0.0.1";
          host.port = 2222;
          guest.port = 22;
        }
      ];
    };
    # sshd and sops-nix read the key where it is mounted.
    services.openssh.hostKeys = [
      {
        path = "${vmKeys}/ssh_host_ed25519_key";
        type = "ed25519";
      }
    ];
    # mkForce: the common profile's list (at normal priority) names
    # /etc/ssh/ssh_host_ed25519_key, which the VM does not have.
    sops.age.sshKeyPaths = lib.mkForce [ "${vmKeys}/ssh_host_ed25519_key" ];

    # The VM is for local development: log in on the console without a key.
    services.getty.autologinUser = "admin";
  };

  # The NixOS release this host was first installed with; it keeps state
  # formats (databases, file layouts) compatible and never changes afterwards.
  system.stateVersion = "26.05";
}
