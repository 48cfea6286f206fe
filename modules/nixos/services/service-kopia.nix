# Scheduled kopia snapshots of chosen paths to a kopia repository, run by a
# hardened systemd service; the repository password comes from a file such as
# a sops-nix secret and never enters the Nix store.
{
  config,
  lib,
  options,
  pkgs,
  ...
}:
let
  cfg = config.devops.services.kopia;
in
{
  options.devops.services.kopia = {
    enable = lib.mkEnableOption "scheduled kopia backups";

    package = lib.mkPackageOption pkgs "kopia" { };

    repository = lib.mkOption {
      # Never empty: `kopia repository connect` needs the kind of repository.
      type = lib.types.nonEmptyListOf lib.types.str;
      example = [
        "s3"
        "--bucket=backups"
        "--endpoint=s3.example.org"
      ];
      description = ''
        Arguments of `kopia repository connect`: the kind of repository and
        its flags. The repository must exist; it is connected on the first run.
      '';
    };

    paths = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [
        "/etc"
        "/home"
        "/var/lib"
      ];
      description = "Paths to snapshot.";
    };

    passwordFile = lib.mkOption {
      type = lib.types.str;
      example = lib.literalExpression ''config.sops.secrets."kopia-password".path'';
      description = ''
        File holding the repository password, e.g. a sops-nix secret's path.
        systemd passes it to the service as a credential.
      '';
    };

    environmentFile = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = null;
      example = lib.literalExpression ''config.sops.secrets."kopia-environment".path'';
      description = ''
        File of `NAME=value` lines for the service, e.g. the storage
        credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`).
      '';
    };

    schedule = lib.mkOption {
      type = lib.types.str;
      default = "daily";
      example = "*-*-* 02:00:00";
      description = "When to take snapshots, as a systemd calendar expression (systemd.time(7)).";
    };

    maxAgeSeconds = lib.mkOption {
      type = lib.types.ints.positive;
      # A daily schedule, its 30 minutes of random delay and a slow snapshot.
      default = 26 * 3600;
      description = ''
        How old the last successful snapshot may be before the monitoring role's BackupTooOld
        alert fires; match it to `schedule` (the default suits a daily one).
      '';
    };

    readWritePaths = lib.mkOption {
      type = lib.types.listOf lib.types.str;
      default = [ ];
      example = [ "/mnt/backup" ];
      description = ''
        Paths the service may write besides its own state, cache and log
        directories, e.g. the folder of a filesystem repository. A leading
        `-` makes a missing path no error (systemd's `ReadWritePaths=`).
      '';
    };
  };

  config = lib.mkIf cfg.enable {
    systemd.services.kopia-backup = {
      description = "kopia snapshot of ${lib.concatStringsSep ", " cfg.paths}";
      wants = [ "network-online.target" ];
      after = [ "network-online.target" ];
      path = [ cfg.package ];
      environment.KOPIA_CHECK_FOR_UPDATES = "false";
      script = ''
        export KOPIA_CONFIG_PATH="$STATE_DIRECTORY/repository.config"
        export KOPIA_CACHE_DIRECTORY="$CACHE_DIRECTORY"
        export KOPIA_LOG_DIR="$LOGS_DIRECTORY"
        KOPIA_PASSWORD="$(<"$CREDENTIALS_DIRECTORY/password")"
        export KOPIA_PASSWORD
        if [ ! -e "$KOPIA_CONFIG_PATH" ]; then
          kopia repository connect ${lib.escapeShellArgs cfg.repository}
        fi
        kopia snapshot create ${lib.escapeShellArgs cfg.paths}
        # Read by the host facts (monitoring/host-facts.sh) as the last success.
        touch "$STATE_DIRECTORY/last-success"
      '';
      serviceConfig = {
        Type = "oneshot";
        LoadCredential = [ "password:${cfg.passwordFile}" ];
        EnvironmentFile = lib.mkIf (cfg.environmentFile != null) cfg.environmentFile;
        StateDirectory = "kopia-backup";
        CacheDirectory = "kopia-backup";
        LogsDirectory = "kopia-backup";
        ReadWritePaths = cfg.readWritePaths;
        UMask = "0077";
        Nice = 10;
        IOSchedulingClass = "idle";

        # Root with a single capability: read every file, change nothing
        # outside the directories above.
        CapabilityBoundingSet = [ "CAP_DAC_READ_SEARCH" ];
        AmbientCapabilities = [ "CAP_DAC_READ_SEARCH" ];
        NoNewPrivileges = true;
        PrivateTmp = true;
        PrivateDevices = true;
        ProtectSystem = "strict";
        # Read-only rather than hidden: /home is usually among the paths.
        ProtectHome = "read-only";
        ProtectKernelTunables = true;
        ProtectKernelModules = true;
        ProtectKernelLogs = true;
        ProtectControlGroups = true;
        ProtectClock = true;
        ProtectHostname = true;
        RestrictAddressFamilies = [
          "AF_UNIX"
          "AF_INET"
          "AF_INET6"
        ];
        RestrictNamespaces = true;
        RestrictRealtime = true;
        RestrictSUIDSGID = true;
        LockPersonality = true;
        MemoryDenyWriteExecute = true;
        SystemCallArchitectures = "native";
        SystemCallFilter = [ "@system-service" ];
      };
    };

    # Where the monitoring mixin is imported too, the host facts report the backup's age.
    devops = lib.optionalAttrs (options.devops ? monitoring) {
      monitoring.backups.kopia = {
        marker = "/var/lib/kopia-backup/last-success";
        inherit (cfg) maxAgeSeconds;
      };
    };

    systemd.timers.kopia-backup = {
      wantedBy = [ "timers.target" ];
      timerConfig = {
        OnCalendar = cfg.schedule;
        # Catch up on a snapshot missed while the machine was off.
        Persistent = true;
        RandomizedDelaySec = "30m";
      };
    };
  };
}
