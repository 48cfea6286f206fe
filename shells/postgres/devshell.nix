# Development PostgreSQL: `database:start` runs a server on a unix socket in
# $PRJ_DATA_DIR/postgres (created on first entry), `database:stop` stops it.
{ extraModulesPath, pkgs, ... }:
{
  imports = [ "${extraModulesPath}/services/postgres.nix" ];

  devshell.name = "postgres";

  services.postgres = {
    package = pkgs.postgresql;
    setupPostgresOnStartup = true;
  };

  serviceGroups.database = {
    description = "the development database";
    services.postgres.command = "start-postgres";
  };
}
