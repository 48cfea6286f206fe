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
  release = import ../../../release.nix;
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
      # Upstream declares no default: its module sets the package in its own config, at
      # mkDefault (priority 1000) and only when PostgreSQL is enabled (below).
      package = mkOption { type = types.package; };
    };
  };

  # services/databases/postgresql.nix: `config = mkIf cfg.enable { services.postgresql.package
  # = mkDefault (…by system.stateVersion…); }`; 26.11pre adds PostgreSQL 18 for new
  # installations (rl-2611: stateVersion >= 26.11).
  config.services.postgresql.package = lib.mkIf config.services.postgresql.enable (
    lib.mkDefault (
      if release != "26.05" && lib.versionAtLeast config.system.stateVersion "26.11" then
        pkgs.postgresql_18
      else if lib.versionAtLeast config.system.stateVersion "25.11" then
        pkgs.postgresql_17
      else
        pkgs.postgresql_16
    )
  );

  config.assertions = [
    {
      assertion = !(config.services.pipewire.pulse.enable && config.services.pulseaudio.enable);
      message = "Using PipeWire as the sound server conflicts with PulseAudio.";
    }
  ];
}
