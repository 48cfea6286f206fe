# User secrets: the keys of secrets/users/<user>/<host>.yaml (written by
# `deno task secrets user grant`) for each user in devops.userSecrets, installed
# by sops-nix as /run/secrets/users/<user>/<key>, owned by that user, mode 0400.
{
  config,
  lib,
  ...
}:
let
  cfg = config.devops.userSecrets;
  host = config.networking.hostName;
  userFile = user: ../../../secrets/users + "/${user}/${host}.yaml";
  # The top-level keys of a sops YAML file: their names are plain text, their
  # values `ENC[…]`; nested maps and the `sops:` block do not match.
  keysOf =
    file:
    let
      lines = lib.splitString "\n" (builtins.readFile file);
      names = map (line: builtins.match "([A-Za-z0-9_.-]+): ENC\\[.*" line) lines;
    in
    map builtins.head (builtins.filter (match: match != null) names);
in
{
  options.devops.userSecrets = lib.mkOption {
    default = { };
    example = lib.literalExpression ''
      {
        sam = { };  # every key of secrets/users/sam/<host>.yaml
        kim.keys = [ "kopia-password" ];
      }
    '';
    description = ''
      Secrets of people who are not admins, by user name: the keys of
      secrets/users/<user>/<host>.yaml to install for that user on this host.
      Each becomes the sops-nix secret `users/<user>/<key>` at
      /run/secrets/users/<user>/<key>, readable by that user and root only.
      The files live under /run/secrets, not in the user's runtime directory,
      which exists only while they are logged in.
    '';
    type = lib.types.attrsOf (
      lib.types.submodule (
        { name, config, ... }:
        {
          options = {
            keys = lib.mkOption {
              type = lib.types.listOf lib.types.str;
              default = if builtins.pathExists config.sopsFile then keysOf config.sopsFile else [ ];
              defaultText = "every top-level key of the user's file";
              example = [ "kopia-password" ];
              description = "Top-level keys of the user's file to install.";
            };
            sopsFile = lib.mkOption {
              type = lib.types.path;
              default = userFile name;
              defaultText = lib.literalExpression ''./secrets/users/''${user}/''${config.networking.hostName}.yaml'';
              description = "The user's sops file on this host.";
            };
            restartUnits = lib.mkOption {
              type = lib.types.listOf lib.types.str;
              default = [ ];
              description = "Units to restart when one of these secrets changes.";
            };
          };
        }
      )
    );
  };

  config = {
    assertions = lib.concatLists (
      lib.mapAttrsToList (user: secrets: [
        {
          assertion = config.users.users ? ${user};
          message = "devops.userSecrets.${user}: no users.users.${user} on ${host}; declare the user";
        }
        {
          assertion = builtins.pathExists secrets.sopsFile;
          message = "devops.userSecrets.${user}: no ${toString secrets.sopsFile}; run `deno task secrets user grant ${user} ${host}`";
        }
      ]) cfg
    );

    sops.secrets = lib.mkMerge (
      lib.mapAttrsToList (
        user: secrets:
        # Declared only when the file and the user exist: the assertions above name what is
        # missing, where a declaration would fail on a missing path or group instead.
        lib.mkIf (builtins.pathExists secrets.sopsFile && config.users.users ? ${user}) (
          lib.listToAttrs (
            map (key: {
              name = "users/${user}/${key}";
              value = {
                inherit (secrets) sopsFile restartUnits;
                inherit key;
                owner = user;
                mode = "0400";
              };
            }) secrets.keys
          )
        )
      ) cfg
    );
  };
}
