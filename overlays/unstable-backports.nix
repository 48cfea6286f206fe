# Packages taken from nixpkgs-unstable where the stable release lags behind.
{ inputs, ... }:
final: _prev:
let
  unstable = inputs.nixpkgs-unstable.legacyPackages.${final.stdenv.hostPlatform.system};
in
{
  # Backups should run the newest kopia: its fixes reach unstable first.
  inherit (unstable) kopia;
}
