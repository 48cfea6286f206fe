# Every monitored host ships its journal to the monitoring host (systemd-journal-upload to the
# role's systemd-journal-remote, lib/monitoring.nix's logUploadUrl) and keeps its own copy:
# while the receiver is away, the host's journal holds the lines and the uploader resumes from
# its saved cursor once it is back.
{ config, lib, ... }:
let
  cfg = config.devops.logging;
  fleet = import ../../../lib/monitoring.nix;
  host = config.networking.hostName;
in
{
  options.devops.logging.ship = lib.mkOption {
    type = lib.types.bool;
    default = config.devops.monitoring.enable && fleet.logUploadUrl != null && fleet.monitoringHost != host;
    defaultText = lib.literalMD "true on a monitored host other than the monitoring host";
    description = "Whether the host uploads its journal to the fleet's monitoring host.";
  };

  config = lib.mkIf cfg.ship {
    services.journald.upload = {
      enable = true;
      settings.Upload = {
        URL = fleet.logUploadUrl;
        # Give up a connection attempt after a minute; the unit restarts and resumes from its
        # saved cursor, so nothing is lost while the receiver is away.
        NetworkTimeoutSec = "60s";
      };
    };
  };
}
