# Development host profile: developer tools and containers, on top of the
# (headless) server profile.
{ lib, pkgs, ... }:
let
  modules = import ../nixos-modules.nix;
in
{
  imports = [ modules.profile-server ];

  # Documentation is for developers: bring back what the server profile drops.
  documentation.enable = lib.mkOverride 900 true;
  documentation.dev.enable = lib.mkDefault true;

  virtualisation.podman = {
    enable = lib.mkDefault true;
    # `docker` on PATH runs podman.
    dockerCompat = lib.mkDefault true;
    # Containers on the default network find each other by name.
    defaultNetwork.settings.dns_enabled = lib.mkDefault true;
  };

  programs.git.enable = lib.mkDefault true;
  programs.direnv.enable = lib.mkDefault true;

  devops.programs.helix = {
    enable = lib.mkDefault true;
    defaultEditor = lib.mkDefault true;
  };

  environment.systemPackages = [
    pkgs.age
    pkgs.deno
    pkgs.fd
    pkgs.gnumake
    pkgs.ripgrep
    pkgs.sops
  ];
}
