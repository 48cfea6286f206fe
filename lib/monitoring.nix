# The fleet's monitoring, as data and pure functions (no nixpkgs): every host's monitoring
# facts (configurations/<host>/monitoring.nix), the Prometheus scrape configuration generated
# from them, and the Alertmanager configuration. The monitoring role
# (modules/nixos/services/service-monitoring-server.nix) and the tests use the same functions:
# `nix eval --json --file lib/monitoring.nix scrapeConfigs` prints what the role scrapes.
let
  index = import ../configurations/nixos-configurations.nix;
  factsFile = dir: dir + "/monitoring.nix";

  # One host's facts: `{ interface; address; port ? 9100; presence ? "always"; smart ? false;
  # tlsEndpoints ? [ "name:port" ]; }`,
  # or `{ exempt = "why this host is not monitored"; }`; null when the file is missing.
  hostFacts = dir: if builtins.pathExists (factsFile dir) then import (factsFile dir) else null;

  isMonitored = facts: facts != null && !(facts ? exempt);

  # An address as a scrape target needs brackets when it is IPv6.
  hostPort =
    address: port:
    let
      bare = builtins.replaceStrings [ "[" "]" ] [ "" "" ] address;
      isV6 = builtins.match ".*:.*" bare != null;
    in
    if isV6 then "[${bare}]:${toString port}" else "${bare}:${toString port}";

  # Static targets of one job: one target group per host, labelled with its name, so that
  # alerts, grouping and inhibition work by `host` whatever the address.
  targetGroups =
    hosts: portOf:
    map (name: {
      targets = [ (hostPort hosts.${name}.address (portOf hosts.${name})) ];
      labels = {
        host = name;
        presence = hosts.${name}.presence or "always";
      };
    }) (builtins.sort builtins.lessThan (builtins.attrNames hosts));

  filterAttrs =
    pred: set:
    builtins.listToAttrs (
      builtins.concatMap (
        name: if pred set.${name} then [ { inherit name; value = set.${name}; } ] else [ ]
      ) (builtins.attrNames set)
    );
in
rec {
  # Node exporter port every host uses unless its facts say otherwise.
  nodeExporterPort = 9100;
  # smartctl_exporter's port (nixpkgs' exporters/smartctl.nix default).
  smartctlExporterPort = 9633;

  # name -> facts (or null when configurations/<name>/monitoring.nix is missing).
  facts = builtins.mapAttrs (_name: hostFacts) index;

  # name -> facts of the hosts the monitoring role scrapes.
  monitored = filterAttrs isMonitored facts;

  # Prometheus `scrape_configs` for the given hosts (name -> facts).
  scrapeConfigsFor =
    hosts:
    let
      smart = filterAttrs (facts: facts.smart or false) hosts;
    in
    [
      {
        job_name = "node";
        static_configs = targetGroups hosts (facts: facts.port or nodeExporterPort);
      }
    ]
    ++ (
      if smart == { } then
        [ ]
      else
        [
          {
            job_name = "smartctl";
            static_configs = targetGroups smart (_facts: smartctlExporterPort);
          }
        ]
    )
    ++ tlsScrapeConfigsFor hosts;

  # The blackbox exporter's port (nixpkgs' exporters/blackbox.nix default); it runs on the
  # monitoring host, on 127.0.0.1 only: Prometheus beside it is its one client.
  blackboxPort = 9115;

  # The blackbox exporter's module that opens a TLS connection and verifies the certificate
  # (system trust store, or `caFile` for a fleet's own certificate authority).
  blackboxConfigFor =
    {
      caFile ? null,
    }:
    {
      modules.tls_connect = {
        prober = "tcp";
        timeout = "10s";
        tcp = {
          tls = true;
        }
        // (if caFile == null then { } else { tls_config.ca_file = caFile; });
      };
    };

  # The "tls" job: every endpoint a host declares it serves TLS on, probed through the blackbox
  # exporter (the endpoint becomes the probe's target and the series' instance).
  tlsScrapeConfigsFor =
    hosts:
    let
      # "name:port" or "[IPv6]:port": a DNS name or IPv4 address (letters, digits, '.', '-'),
      # a port from 1 to 65535.
      isEndpoint =
        e:
        let
          parts = builtins.match "(\\[[0-9A-Fa-f:.]+]|[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?):([1-9][0-9]{0,4})" e;
          port = builtins.fromJSON (builtins.elemAt parts 2);
        in
        builtins.isString e && parts != null && port >= 1 && port <= 65535;
      serving = filterAttrs (facts: (facts.tlsEndpoints or [ ]) != [ ]) hosts;
      endpointsOf =
        name:
        let
          endpoints = hosts.${name}.tlsEndpoints;
        in
        if builtins.isList endpoints && builtins.all isEndpoint endpoints then
          endpoints
        else
          throw "${name}'s monitoring.nix: tlsEndpoints must be a list of \"name:port\" strings";
    in
    if serving == { } then
      [ ]
    else
      [
        {
          job_name = "tls";
          metrics_path = "/probe";
          params.module = [ "tls_connect" ];
          static_configs = map (name: {
            targets = endpointsOf name;
            labels = {
              host = name;
              presence = serving.${name}.presence or "always";
            };
          }) (builtins.sort builtins.lessThan (builtins.attrNames serving));
          relabel_configs = [
            {
              source_labels = [ "__address__" ];
              target_label = "__param_target";
            }
            {
              source_labels = [ "__param_target" ];
              target_label = "instance";
            }
            {
              target_label = "__address__";
              replacement = "127.0.0.1:${toString blackboxPort}";
            }
          ];
        }
      ];

  # Whether any monitored host declares a TLS endpoint (the role then runs the prober).
  probesTls = tlsScrapeConfigsFor monitored != [ ];

  scrapeConfigs = scrapeConfigsFor monitored;

  # The host with `monitoringHost = true` in its facts (at most one), or null.
  monitoringHost =
    let
      names = builtins.attrNames (filterAttrs (facts: facts.monitoringHost or false) monitored);
    in
    if builtins.length names > 1 then
      throw "more than one host says monitoringHost = true: ${builtins.concatStringsSep ", " names}"
    else if names == [ ] then
      null
    else
      builtins.head names;

  # systemd-journal-remote's port (its upstream default); plain HTTP on the monitoring
  # interface (see README, "Logs").
  logReceiverPort = 19532;

  # Where every other host uploads its journal, or null without a monitoring host.
  logUploadUrl =
    if monitoringHost == null then
      null
    else
      "http://${hostPort monitored.${monitoringHost}.address logReceiverPort}";

  # Alertmanager's configuration. Secrets stay out of it: `$SMTP_PASSWORD` and `$WEBHOOK_URL`
  # are filled in by the NixOS module's envsubst from an environment file (a sops secret) when
  # the service starts.
  # `heartbeat`: the Watchdog alert (firing while Prometheus scrapes any host) is posted every
  # 5 minutes to `$HEARTBEAT_URL`, a dead man's switch outside the fleet (healthchecks.io,
  # ntfy, Uptime Kuma's push monitor) that raises the alarm when the posts stop: the monitoring
  # host down, or seeing nothing. Without it the Watchdog goes nowhere.
  alertmanagerConfig =
    {
      email ? null, # { to; from; smarthost; username; requireTls ? true; }
      webhook ? false,
      heartbeat ? false,
    }:
    {
      route = {
        receiver = "fleet";
        group_by = [ "host" "alertname" ];
        group_wait = "30s";
        group_interval = "5m";
        repeat_interval = "4h";
        routes = [
          {
            matchers = [ ''alertname="Watchdog"'' ];
            receiver = if heartbeat then "heartbeat" else "discard";
            group_by = [ "alertname" ];
            group_wait = "0s";
            group_interval = "1m";
            repeat_interval = "5m";
          }
        ];
      };
      receivers = [
        (
          if heartbeat then
            {
              name = "heartbeat";
              webhook_configs = [
                {
                  url = "$HEARTBEAT_URL";
                  send_resolved = false;
                }
              ];
            }
          else
            { name = "discard"; }
        )
        (
          {
            name = "fleet";
          }
          // (
            if email == null then
              { }
            else
              {
                email_configs = [
                  {
                    inherit (email) to from smarthost;
                    auth_username = email.username;
                    auth_password = "$SMTP_PASSWORD";
                    require_tls = email.requireTls or true;
                    send_resolved = true;
                  }
                ];
              }
          )
          // (
            if webhook then
              {
                webhook_configs = [
                  {
                    url = "$WEBHOOK_URL";
                    send_resolved = true;
                  }
                ];
              }
            else
              { }
          )
        )
      ];
      # A host that is down silences its other alerts: they follow from it.
      inhibit_rules = [
        {
          source_matchers = [ ''alertname="HostDown"'' ];
          target_matchers = [ ''alertname!="HostDown"'' ];
          equal = [ "host" ];
        }
      ];
    };
}
