# Models nixos/modules/virtualisation/build-vm.nix: virtualisation.vmVariant is the host's
# configuration again with ./qemu-vm.nix (what `nixos-rebuild build-vm` builds).
{ extendModules, lib, ... }:
let
  vmVariant = extendModules { modules = [ ./qemu-vm.nix ]; };
in
{
  options.virtualisation.vmVariant = lib.mkOption {
    inherit (vmVariant) type;
    default = { };
    visible = "shallow";
  };
}
