# formatter: nixfmt (RFC 166 style) for `nix fmt`.
{ ... }:
{
  perSystem =
    { pkgs, ... }:
    {
      formatter = pkgs.nixfmt;
    };
}
