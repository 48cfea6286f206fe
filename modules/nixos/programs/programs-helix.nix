# Helix editor with language servers for Nix, shell, TypeScript/Deno, YAML and
# Markdown on PATH (Helix finds them by their default command names).
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.devops.programs.helix;
in
{
  options.devops.programs.helix = {
    enable = lib.mkEnableOption "the Helix editor with language servers";

    package = lib.mkPackageOption pkgs "helix" { };

    languageServers = lib.mkOption {
      type = lib.types.listOf lib.types.package;
      default = [
        pkgs.nil
        pkgs.bash-language-server
        pkgs.typescript-language-server
        pkgs.deno
        pkgs.yaml-language-server
        pkgs.marksman
      ];
      defaultText = lib.literalExpression ''
        [
          pkgs.nil
          pkgs.bash-language-server
          pkgs.typescript-language-server
          pkgs.deno
          pkgs.yaml-language-server
          pkgs.marksman
        ]
      '';
      description = "Language servers installed next to Helix.";
    };

    defaultEditor = lib.mkOption {
      type = lib.types.bool;
      default = false;
      description = "Whether to make Helix the default editor (`EDITOR` and `VISUAL`).";
    };
  };

  config = lib.mkIf cfg.enable {
    environment.systemPackages = [ cfg.package ] ++ cfg.languageServers;
    environment.variables = lib.mkIf cfg.defaultEditor {
      EDITOR = "hx";
      VISUAL = "hx";
    };
  };
}
