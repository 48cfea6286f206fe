# Models nixos/modules/config/users-groups.nix (with the openssh.authorizedKeys options
# that services/networking/ssh/sshd.nix adds to each user): the user options the fleet
# and the installer profile set, and upstream's assertions: one of isNormalUser and
# isSystemUser, the lock-out check when users are not mutable, and the users activation
# script (which sops-nix orders its secrets for users before).
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  cfg = config.users;
  nullStr = mkOption {
    type = types.nullOr types.str;
    default = null;
  };
  userType = types.submodule (
    { name, config, ... }:
    {
      options = {
        name = mkOption {
          type = types.passwdEntry types.str;
          default = name;
        };
        description = mkOption {
          type = types.passwdEntry types.str;
          default = "";
        };
        uid = mkOption {
          type = types.nullOr types.int;
          default = null;
        };
        isNormalUser = mkOption {
          type = types.bool;
          default = false;
        };
        isSystemUser = mkOption {
          type = types.bool;
          default = false;
        };
        group = mkOption {
          type = types.str;
          default = "";
        };
        extraGroups = mkOption {
          type = types.listOf types.str;
          default = [ ];
        };
        home = mkOption {
          type = types.passwdEntry types.path;
          default = "/var/empty";
        };
        createHome = mkOption {
          type = types.bool;
          default = false;
        };
        shell = mkOption {
          type = types.nullOr (types.either types.shellPackage (types.passwdEntry types.path));
          default = null;
        };
        hashedPassword = mkOption {
          type = types.nullOr (types.passwdEntry types.str);
          default = null;
        };
        password = nullStr;
        hashedPasswordFile = nullStr;
        initialHashedPassword = mkOption {
          type = types.nullOr (types.passwdEntry types.str);
          default = null;
        };
        initialPassword = nullStr;
        openssh.authorizedKeys = {
          keys = mkOption {
            type = types.listOf types.singleLineStr;
            default = [ ];
          };
          keyFiles = mkOption {
            type = types.listOf types.path;
            default = [ ];
          };
        };
      };
      config = lib.mkMerge [
        (lib.mkIf config.isNormalUser {
          group = lib.mkDefault "users";
          createHome = lib.mkDefault true;
          home = lib.mkDefault "/home/${config.name}";
        })
        (lib.mkIf (!cfg.mutableUsers && config.initialHashedPassword != null) {
          hashedPassword = lib.mkDefault config.initialHashedPassword;
        })
      ];
    }
  );
  # A password hash that allows a login (not "!", "*" or empty-locked).
  allowsLogin =
    hash:
    hash == ""
    || !(lib.elem hash [
      null
      "!"
      "*"
    ]);
in
{
  options.users = {
    mutableUsers = mkOption {
      type = types.bool;
      default = true;
    };
    allowNoPasswordLogin = mkOption {
      type = types.bool;
      default = false;
    };
    users = mkOption {
      type = types.attrsOf userType;
      default = { };
    };
    groups = mkOption {
      type = types.attrsOf (
        types.submodule (
          { name, ... }:
          {
            options = {
              name = mkOption {
                type = types.str;
                default = name;
              };
              gid = mkOption {
                type = types.nullOr types.int;
                default = null;
              };
              members = mkOption {
                type = types.listOf types.str;
                default = [ ];
              };
            };
          }
        )
      );
      default = { };
    };
  };

  config = {
    # Upstream's script that creates the users (update-users-groups.pl; here a placeholder):
    # defined when neither systemd.sysusers nor services.userborn is on, as in the fleet.
    # sops-nix's neededForUsers secrets are set up before it (users.deps).
    system.activationScripts.users = {
      supportsDryActivation = true;
      text = "# update-users-groups.pl (not modelled)";
    };

    users.users.root = {
      uid = 0;
      description = "System administrator";
      home = "/root";
      group = "root";
    };

    assertions =
      [
        {
          assertion =
            cfg.mutableUsers
            || cfg.allowNoPasswordLogin
            || lib.any lib.id (
              lib.mapAttrsToList (
                name: user:
                (name == "root" || user.group == "wheel" || lib.elem "wheel" user.extraGroups)
                && (
                  allowsLogin user.hashedPassword
                  || user.password != null
                  || user.hashedPasswordFile != null
                  || user.openssh.authorizedKeys.keys != [ ]
                  || user.openssh.authorizedKeys.keyFiles != [ ]
                )
              ) cfg.users
            );
          message = "Neither the root account nor any wheel user has a password or SSH authorized key. You must set one to prevent being locked out of your system.";
        }
      ]
      ++ lib.mapAttrsToList (name: user: {
        assertion = user.isNormalUser != user.isSystemUser || name == "root";
        message = "Exactly one of users.users.${name}.isSystemUser and users.users.${name}.isNormalUser must be set.";
      }) cfg.users;
  };
}
