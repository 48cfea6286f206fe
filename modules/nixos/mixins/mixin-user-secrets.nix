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
  # The top-level entries of a sops YAML file (not the `sops:` block): `{ name; encrypted; }`,
  # `encrypted` when the value is one `ENC[…]` string (a nested map or a plain value is not a
  # secret file of its own). A quoted name is unquoted.
  entriesOf =
    file:
    let
      lines = lib.splitString "\n" (builtins.readFile file);
      parse =
        line:
        let
          quoted = builtins.match "\"([^\"]*)\":(.*)" line;
          plain = builtins.match "([^ \t#'\"-][^:]*|-[^ :][^:]*):(.*)" line;
          found = if quoted != null then quoted else plain;
        in
        if found == null || builtins.head found == "sops" then
          null
        else
          {
            name = builtins.head found;
            encrypted = builtins.match " *ENC\\[.*" (builtins.elemAt found 1) != null;
          };
    in
    builtins.filter (entry: entry != null) (map parse lines);
  # A key becomes the path /run/secrets/users/<user>/<key>: one plain file name, never `.`,
  # `..` or a name with a slash, space or other character a path or a shell would treat apart.
  safeKey = key: builtins.match "[A-Za-z0-9_][A-Za-z0-9_.-]*" key != null;
  unsafeKeys = secrets: builtins.filter (key: !safeKey key) secrets.keys;
  # Entries of the user's file that are not installed because they are no secret value of
  # their own (a nested map, a value left unencrypted).
  skippedKeys =
    secrets:
    if builtins.pathExists secrets.sopsFile then
      map (entry: entry.name) (builtins.filter (entry: !entry.encrypted) (entriesOf secrets.sopsFile))
    else
      [ ];
  quoteKeys = keys: lib.concatMapStringsSep ", " (key: "`${key}`") keys;
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
              default =
                if builtins.pathExists config.sopsFile then
                  map (entry: entry.name) (builtins.filter (entry: entry.encrypted) (entriesOf config.sopsFile))
                else
                  [ ];
              defaultText = "every top-level key of the user's file whose value is encrypted";
              example = [ "kopia-password" ];
              description = ''
                Top-level keys of the user's file to install. Each must be a plain file name
                (letters, digits, `_`, `-` and `.`, not starting with `.`): another key fails the
                evaluation with a message naming it.
              '';
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
        {
          assertion = unsafeKeys secrets == [ ];
          message = "devops.userSecrets.${user}: ${if builtins.length (unsafeKeys secrets) == 1 then "key" else "keys"} ${quoteKeys (unsafeKeys secrets)} of ${toString secrets.sopsFile}: not a plain file name (letters, digits, `_`, `-`, `.`; not starting with `.`); rename it in the file (`sops` on it) or leave it out of devops.userSecrets.${user}.keys";
        }
      ]) cfg
    );

    warnings = lib.concatLists (
      lib.mapAttrsToList (
        user: secrets:
        lib.optional (skippedKeys secrets != [ ])
          "devops.userSecrets.${user}: ${quoteKeys (skippedKeys secrets)} in ${toString secrets.sopsFile} not installed: not one encrypted value (a nested map or a plain value); make it a top-level key with a string value"
      ) cfg
    );

    sops.secrets = lib.mkMerge (
      lib.mapAttrsToList (
        user: secrets:
        # Declared only when the file and the user exist: the assertions above name what is
        # missing, where a declaration would fail on a missing path or group instead. An
        # unsafe key is never declared (`users/sam/..` would be the folder of every user's
        # secrets); its assertion fails the evaluation.
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
            }) (builtins.filter safeKey secrets.keys)
          )
        )
      ) cfg
    );
  };
}
