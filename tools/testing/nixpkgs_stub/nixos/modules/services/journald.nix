# Models nixos/modules/system/boot/systemd/journald.nix as of release-26.05: journald.conf
# from services.journald.settings.<section>.<key>; extraConfig is removed.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  atom = types.oneOf [
    types.bool
    types.int
    types.str
  ];
in
{
  imports = [
    (lib.mkRemovedOptionModule [
      "services"
      "journald"
      "extraConfig"
    ] "Use services.journald.settings.Journal instead.")
  ];

  options.services.journald.settings = mkOption {
    type = types.attrsOf (types.attrsOf (types.either atom (types.listOf atom)));
    default = { };
  };

  config.environment.etc."systemd/journald.conf".text = lib.generators.toINI { } (
    lib.mapAttrs (_: lib.mapAttrs (_: value: if builtins.isList value then toString value else value))
      config.services.journald.settings
  );
}
