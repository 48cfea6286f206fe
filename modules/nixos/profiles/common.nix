# Common profile of every host: network, Nix, SSH, security defaults, admins
# and sops-nix secrets.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  modules = import ../nixos-modules.nix;
  admins = import ../../../lib/admins.nix;
  adminKeys = lib.concatMap (admin: admin.sshKeys) (builtins.attrValues admins);
  secretsFile = ../../../secrets + "/${config.networking.hostName}.yaml";
in
{
  imports = [
    modules.mixin-audit
    modules.mixin-boot
    modules.mixin-bruteforce
    modules.mixin-firewall
    modules.mixin-hardening
    modules.mixin-journald
    modules.mixin-known-hosts
    modules.mixin-logging
    modules.mixin-monitoring
    modules.mixin-nix
    modules.mixin-openssh
    modules.mixin-passwords
    modules.mixin-sudo
    modules.mixin-user-secrets
    modules.programs-helix
    modules.service-kopia
    modules.service-monitoring-server
    modules.theme-console
  ];

  time.timeZone = lib.mkDefault "UTC";
  i18n.defaultLocale = lib.mkDefault "en_US.UTF-8";

  # Users are declared here only. Admins use SSH keys; login passwords come from
  # sops (mixin-passwords: the host's people on workstations, nobody on servers).
  users.mutableUsers = lib.mkDefault false;
  users.users.root.openssh.authorizedKeys.keys = adminKeys;
  users.users.admin = {
    isNormalUser = true;
    description = "Fleet administrator";
    extraGroups = [ "wheel" ];
    openssh.authorizedKeys.keys = adminKeys;
  };

  environment.systemPackages = [
    pkgs.curl
    pkgs.git
    pkgs.htop
    pkgs.jq
    pkgs.rsync
  ];

  # A host that runs PostgreSQL runs the fleet's version (overlays/postgresql-16.nix),
  # not the one upstream picks from system.stateVersion. Upstream sets the package itself,
  # with mkDefault (priority 1000), once PostgreSQL is enabled: a second mkDefault would be
  # a second definition at the same priority ("defined multiple times"). 900 wins over
  # upstream's; a host's plain value (100) still wins over ours.
  services.postgresql.package = lib.mkOverride 900 pkgs.postgresql;

  services.fstrim.enable = lib.mkDefault true;
  zramSwap.enable = lib.mkDefault true;

  # The host decrypts secrets/<host>.yaml with the age key derived from its
  # SSH host key; hosts without such a file (the installer) have no secrets.
  sops = {
    age.sshKeyPaths = [ "/etc/ssh/ssh_host_ed25519_key" ];
    gnupg.sshKeyPaths = [ ];
    defaultSopsFile = lib.mkIf (builtins.pathExists secretsFile) (lib.mkDefault secretsFile);
  };

  # The VM variant (`deno task vm`, `nixos-rebuild build-vm`) runs with a host key given at run
  # time: the folder $DEVOPS_VM_KEYS (a throw-away key `deno task vm` makes, never the host's
  # real one; a Nix path would copy it into the world-readable store), mounted at
  # /mnt/vm-keys, outside /tmp, which boot.tmp.cleanOnBoot empties. sops-nix derives the VM's
  # age identity from it. 900: over the openssh mixin's mkDefault, under a host's own value
  # (dev-vm's); 90: over the plain list above, under a host's mkForce (dev-vm's).
  virtualisation.vmVariant = {
    virtualisation.sharedDirectories.vm-keys = {
      source = ''"''${DEVOPS_VM_KEYS:-$TMPDIR/xchg}"'';
      target = "/mnt/vm-keys";
    };
    services.openssh.hostKeys = lib.mkOverride 900 [
      {
        path = "/mnt/vm-keys/ssh_host_ed25519_key";
        type = "ed25519";
      }
    ];
    sops.age.sshKeyPaths = lib.mkOverride 90 [ "/mnt/vm-keys/ssh_host_ed25519_key" ];
  };
}
