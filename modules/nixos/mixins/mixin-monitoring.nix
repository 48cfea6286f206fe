# Every host's exporters, reachable through its monitoring interface only: the node exporter
# (with the systemd collector and the host facts of monitoring/host-facts.sh through the
# textfile collector) and, on hosts with disks to watch, smartctl_exporter. The settings come
# from configurations/<host>/monitoring.nix, the file lib/monitoring.nix reads to make the
# monitoring role's scrape targets: a host is scraped exactly where it listens.
{
  config,
  lib,
  pkgs,
  ...
}:
let
  cfg = config.devops.monitoring;
  fleet = import ../../../lib/monitoring.nix;
  host = config.networking.hostName;
  facts = fleet.facts.${host} or null;
  factsFile = "configurations/${host}/monitoring.nix";
  textfileDir = "/var/lib/prometheus-node-exporter-text";
  zfs = config.boot.supportedFilesystems.zfs or false;
  security = import ../../../lib/security.nix;
  # Root logins from outside these count as security events (IPv4 networks; see host-facts.sh).
  ipv4Networks = builtins.filter (
    network: builtins.match "[0-9.]+(/[0-9]+)?" network != null
  ) security.adminNetworks;
  securityArgs =
    lib.concatMap (network: [
      "--admin-network"
      network
    ]) ipv4Networks
    ++ lib.optional config.devops.logging.ship "--ships-logs"
    ++ lib.optionals config.devops.monitoring.server.enable [
      "--received-logs"
      "/var/log/journal/remote"
    ];
  backupArgs = lib.concatMap (name: [
    "--backup"
    "${name}:${cfg.backups.${name}.marker}:${toString cfg.backups.${name}.maxAgeSeconds}"
  ]) (builtins.attrNames cfg.backups);
in
{
  options.devops.monitoring = {
    enable = lib.mkOption {
      type = lib.types.bool;
      default = facts != null && !(facts ? exempt);
      defaultText = lib.literalMD "true unless `${factsFile}` exempts the host";
      description = "Whether the host exports metrics for the monitoring role.";
    };

    interface = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = if facts == null then null else facts.interface or null;
      example = "wg0";
      description = ''
        Network interface on which the exporters' ports are opened in the firewall. The ports
        stay closed on every other interface. Set in `${factsFile}`.
      '';
    };

    address = lib.mkOption {
      type = lib.types.nullOr lib.types.str;
      default = if facts == null then null else facts.address or null;
      example = "10.0.0.10";
      description = ''
        Address of `interface` the exporters listen on and the monitoring role scrapes
        (an IPv6 address in brackets). Set in `${factsFile}`.
      '';
    };

    port = lib.mkOption {
      type = lib.types.port;
      default = if facts == null then fleet.nodeExporterPort else facts.port or fleet.nodeExporterPort;
      description = "TCP port of the node exporter.";
    };

    smart = lib.mkOption {
      type = lib.types.bool;
      default = if facts == null then false else facts.smart or false;
      description = "Whether smartctl_exporter reports the SMART health of the host's disks.";
    };

    backups = lib.mkOption {
      type = lib.types.attrsOf (
        lib.types.submodule {
          options = {
            marker = lib.mkOption {
              type = lib.types.str;
              description = "File the backup's unit touches after each successful run.";
            };
            maxAgeSeconds = lib.mkOption {
              type = lib.types.ints.positive;
              description = "How old the last successful backup may be before BackupTooOld fires.";
            };
          };
        }
      );
      default = { };
      description = "Backups whose age the host facts report (a backup service module adds its own).";
    };
  };

  config = lib.mkMerge [
    {
      assertions = [
        {
          assertion = facts != null;
          message = ''
            ${factsFile} is missing: every host says where it is monitored. Create it with
            `{ interface = "<the interface the monitoring host reaches>"; address = "<its address there>"; }`,
            or `{ exempt = "<why this host is not monitored>"; }`.
          '';
        }
      ];
    }
    (lib.mkIf cfg.enable {
      assertions = [
        {
          assertion = cfg.interface != null && cfg.address != null;
          message = ''
            ${factsFile} must set `interface` and `address` (where the monitoring host scrapes
            ${host}), or `exempt = "<why>"` to leave the host unmonitored.
          '';
        }
      ];

      services.prometheus.exporters.node = {
        enable = true;
        inherit (cfg) port;
        listenAddress = lib.mkIf (cfg.address != null) cfg.address;
        enabledCollectors = [
          "systemd"
          "textfile"
        ];
        extraFlags = [ "--collector.textfile.directory=${textfileDir}" ];
        # Opened below on cfg.interface only, not on every interface.
        openFirewall = false;
      };

      services.prometheus.exporters.smartctl = lib.mkIf cfg.smart {
        enable = true;
        port = fleet.smartctlExporterPort;
        listenAddress = lib.mkIf (cfg.address != null) cfg.address;
        openFirewall = false;
      };

      # Listening on one address needs that address to be up.
      systemd.services.prometheus-node-exporter = lib.mkIf (cfg.address != null) {
        wants = [ "network-online.target" ];
        after = [ "network-online.target" ];
      };
      systemd.services.prometheus-smartctl-exporter = lib.mkIf (cfg.smart && cfg.address != null) {
        wants = [ "network-online.target" ];
        after = [ "network-online.target" ];
      };

      # The host's facts for the textfile collector: at every activation and on a timer.
      systemd.services.devops-host-facts = {
        description = "Host facts (generation, reboot needed, drift, backup age, security counters) for the node exporter";
        path = [
          pkgs.coreutils
          pkgs.gnused
          pkgs.gnugrep
          pkgs.gawk
          pkgs.systemd
        ]
        ++ lib.optional zfs pkgs.zfs
        ++ lib.optional config.services.fail2ban.enable config.services.fail2ban.package;
        serviceConfig = {
          Type = "oneshot";
          ExecStart = lib.escapeShellArgs (
            [
              "${pkgs.bash}/bin/sh"
              "${../../../monitoring/host-facts.sh}"
              "--out"
              "${textfileDir}/host-facts.prom"
            ]
            ++ backupArgs
            ++ securityArgs
          );
          StateDirectory = "prometheus-node-exporter-text";
          StateDirectoryMode = "0755";
          UMask = "0022";
          NoNewPrivileges = true;
          ProtectSystem = "strict";
          ProtectHome = true;
          PrivateTmp = true;
          PrivateNetwork = true;
          # zpool status needs /dev/zfs and nothing else.
          PrivateDevices = !zfs;
          DevicePolicy = "closed";
          DeviceAllow = lib.optional zfs "/dev/zfs rw";
          ProtectKernelTunables = true;
          ProtectKernelModules = true;
          ProtectControlGroups = true;
          RestrictAddressFamilies = [ "AF_UNIX" ];
          RestrictNamespaces = true;
          LockPersonality = true;
          MemoryDenyWriteExecute = true;
          SystemCallArchitectures = "native";
        };
      };
      systemd.timers.devops-host-facts = {
        wantedBy = [ "timers.target" ];
        timerConfig = {
          OnBootSec = "1min";
          OnUnitActiveSec = "15min";
        };
      };
      # Queued, not waited for: the facts are written once the new system is current. In an
      # installer's chroot there is no systemd to ask, and that is no error.
      system.activationScripts.devops-host-facts = ''
        ${pkgs.systemd}/bin/systemctl start --no-block devops-host-facts.service 2>/dev/null || true
      '';

      networking.firewall.interfaces = lib.mkIf (cfg.interface != null) {
        ${cfg.interface}.allowedTCPPorts = [ cfg.port ] ++ lib.optional cfg.smart fleet.smartctlExporterPort;
      };
    })
  ];
}
