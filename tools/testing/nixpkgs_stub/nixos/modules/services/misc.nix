# Models the service switches the fleet sets, each from its upstream module under
# nixos/modules/services/: fstrim, zram (config/zram.nix), udisks2, printing (cups),
# qemu-guest-agent, PipeWire and PulseAudio, and services.postgresql.package.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  inherit (lib) mkOption types;
  enable = mkOption {
    type = types.bool;
    default = false;
  };
in
{
  options = {
    services.fstrim.enable = enable;
    zramSwap.enable = enable;
    services.udisks2.enable = enable;
    services.printing.enable = enable;
    services.qemuGuest.enable = enable;
    services.pulseaudio.enable = enable;
    services.pipewire = {
      enable = enable;
      alsa.enable = enable;
      alsa.support32Bit = enable;
      pulse.enable = enable;
    };
    services.postgresql = {
      enable = enable;
      package = mkOption {
        type = types.package;
        # Upstream picks the major version from system.stateVersion, not pkgs.postgresql.
        default =
          if lib.versionAtLeast config.system.stateVersion "25.11" then
            pkgs.postgresql_17
          else
            pkgs.postgresql_16;
      };
    };
  };

  config.assertions = [
    {
      assertion = !(config.services.pipewire.pulse.enable && config.services.pulseaudio.enable);
      message = "Using PipeWire as the sound server conflicts with PulseAudio.";
    }
  ];
}
