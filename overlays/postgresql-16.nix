# Version pin: PostgreSQL 16 is `pkgs.postgresql` on every host and in the
# development shell, whatever the release's default major version. The server
# of services.postgresql does not read pkgs.postgresql (its default follows
# system.stateVersion): profile-common sets it from this.
_: final: _prev: {
  postgresql = final.postgresql_16;
}
