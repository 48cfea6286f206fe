# Login passwords: users.mutableUsers is false, so a person can log in with a
# password (at SDDM, the console, su) only if the configuration gives one.
# The hash of each person's password lives in the host's sops file,
# secrets/<host>.yaml, under `passwords: { <user>: <hash> }` (written by
# `deno task secrets password <user> --host <host>`). sops-nix installs it with
# neededForUsers, in /run/secrets-for-users/passwords/<user>, before the users
# are created, and users.users.<user>.hashedPasswordFile points at it.
{
  config,
  lib,
  ...
}:
let
  cfg = config.devops.passwords;
  host = config.networking.hostName;
  normalUsers = lib.attrNames (lib.filterAttrs (_: user: user.isNormalUser) config.users.users);
  secretName = user: "passwords/${user}";
  withPassword = cfg.users ++ lib.optional cfg.root "root";
in
{
  # Added to every user as a submodule definition, not as `users.users = { … }`:
  # the default list reads the host's users, which such a definition would change.
  options.users.users = lib.mkOption {
    type = lib.types.attrsOf (
      lib.types.submodule (
        { name, ... }:
        {
          config = lib.mkIf (lib.elem name withPassword) {
            hashedPasswordFile = config.sops.secrets.${secretName name}.path;
          };
        }
      )
    );
  };

  options.devops.passwords = {
    workstation = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = ''
        People sit at this host (the workstation profile sets it). Its
        people log in with a password by default, and an assertion refuses
        a configuration in which nobody could log in at the machine.
      '';
    };
    users = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = if cfg.workstation then normalUsers else [ ];
      defaultText = lib.literalMD "the host's normal users on a workstation, else `[ ]`";
      example = [ "admin" ];
      description = ''
        The people who can log in with a password on this host. Each needs
        the key `passwords/<user>` in secrets/<host>.yaml
        (`deno task secrets password <user> --host <host>`). Servers default
        to none: their people log in with SSH keys.
      '';
    };
    root = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = ''
        Give root the password in `passwords/root` of secrets/<host>.yaml,
        for logging in at the console when the network is gone
        (`deno task secrets password root --host <host>`).
      '';
    };
  };

  config = {
    assertions =
      map (user: {
        assertion = config.users.users ? ${user} && user != "root";
        message =
          if user == "root" then
            "devops.passwords.users: root is not a person; set devops.passwords.root = true for root's console password"
          else
            "devops.passwords.users: no users.users.${user} on ${host}; declare the user or remove it from the list";
      }) cfg.users
      ++ [
        {
          assertion = !cfg.workstation || lib.any (user: lib.elem user normalUsers) cfg.users;
          message = "${host} is a workstation but nobody can log in at it: devops.passwords.users names no normal user; list one (and set its password: deno task secrets password <user> --host ${host})";
        }
      ];

    sops.secrets = lib.genAttrs (map secretName withPassword) (_: {
      neededForUsers = true;
    });
  };
}
