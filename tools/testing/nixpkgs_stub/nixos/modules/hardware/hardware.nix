# Models nixos/modules/hardware/{all-firmware,bluetooth,cpu/amd-microcode}.nix.
{ lib, ... }:
let
  bool =
    default:
    lib.mkOption {
      type = lib.types.bool;
      inherit default;
    };
in
{
  options.hardware = {
    enableRedistributableFirmware = bool false;
    bluetooth.enable = bool false;
    cpu.amd.updateMicrocode = bool false;
  };
}
