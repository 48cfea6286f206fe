# Version pin: PostgreSQL 16 is the `postgresql` everywhere in the fleet (and
# in the development shell), whatever the release's default major version.
_: final: _prev: {
  postgresql = final.postgresql_16;
}
