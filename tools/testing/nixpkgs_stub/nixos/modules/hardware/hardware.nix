# Models nixos/modules/hardware/{all-firmware,bluetooth,cpu/amd-microcode}.nix.
{ config, lib, ... }:
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
    enableAllFirmware = bool false;
    # Upstream's default follows enableAllFirmware (PROVENANCE.tsv).
    enableRedistributableFirmware = lib.mkOption {
      type = lib.types.bool;
      default = config.hardware.enableAllFirmware;
      defaultText = lib.literalExpression "config.hardware.enableAllFirmware";
    };
    bluetooth.enable = bool false;
    cpu.amd.updateMicrocode = bool false;
  };
}
