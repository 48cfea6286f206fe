# Development PostgreSQL: `database-start` runs a server in the background on a
# unix socket in $PRJ_DATA_DIR/postgres (created on first entry),
# `database-stop` stops it. (devshell's serviceGroups would name its commands
# `database:start`, and `:` cannot be in a store path name.)
{ extraModulesPath, pkgs, ... }:
{
  imports = [ "${extraModulesPath}/services/postgres.nix" ];

  devshell.name = "postgres";

  services.postgres = {
    package = pkgs.postgresql;
    setupPostgresOnStartup = true;
  };

  # PGDATA and PGHOST come from the postgres module above.
  commands = [
    {
      name = "database-start";
      category = "databases";
      help = "start the development database in the background";
      command = ''pg_ctl start --wait --log "$PGDATA/postgres.log"'';
    }
    {
      name = "database-stop";
      category = "databases";
      help = "stop the development database";
      command = "pg_ctl stop --wait";
    }
  ];
}
