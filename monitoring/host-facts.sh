#!/bin/sh
# Prints a host's facts as Prometheus text-format metrics, for the node exporter's textfile
# collector (the devops-host-facts unit writes them at activation and on a timer) and for any
# tool that asks a host the same questions: which generation it runs, whether a reboot is
# needed, whether it drifted from the last deploy, when each backup last succeeded.
#
# Usage: host-facts.sh [--out FILE] [--backup NAME:MARKER_FILE:MAX_AGE_SECONDS]...
#                      [--admin-network CIDR]... [--ships-logs] [--received-logs DIR]
#                      [--facts-only]
#   --out            write FILE atomically (FILE.tmp, then rename) instead of standard output
#   --backup         a backup whose unit touches MARKER_FILE after each success, allowed MAX_AGE old
#   --admin-network  an IPv4 network the admins log in from: root logins from elsewhere count
#   --ships-logs     the host uploads its journal to the monitoring host
#   --received-logs  the journals received from other hosts (the monitoring host)
#   --facts-only     the facts without the security counters (what `deno task status` asks)
# DEVOPS_FACTS_ROOT prefixes every path read (tests point it at a fake root).
set -eu

root=${DEVOPS_FACTS_ROOT:-}
record=$root/nix/var/devops-deploy/last-deploy
out=
backups=
admin_networks=
ships_logs=0
received_logs=
with_security=1
# Security counters look back this far (the timer's period).
window=${DEVOPS_FACTS_WINDOW:-15min}

while [ $# -gt 0 ]; do
  case $1 in
    --out) [ $# -ge 2 ] || { echo "host-facts: --out needs a file" >&2; exit 2; }; out=$2; shift 2 ;;
    --backup)
      [ $# -ge 2 ] || { echo "host-facts: --backup needs NAME:FILE:SECONDS" >&2; exit 2; }
      backups="$backups
$2"
      shift 2 ;;
    --admin-network)
      [ $# -ge 2 ] || { echo "host-facts: --admin-network needs a CIDR" >&2; exit 2; }
      admin_networks="$admin_networks $2"
      shift 2 ;;
    --ships-logs) ships_logs=1; shift ;;
    --facts-only) with_security=0; shift ;;
    --received-logs)
      [ $# -ge 2 ] || { echo "host-facts: --received-logs needs a folder" >&2; exit 2; }
      received_logs=$2
      shift 2 ;;
    *) echo "host-facts: unknown argument: $1" >&2; exit 2 ;;
  esac
done

# A label value with backslash, double quote and newline escaped (the text format's rules).
label() {
  printf '%s' "$1" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' | awk 'NR > 1 { printf "\\n" } { printf "%s", $0 }'
}

# The store path a link resolves to, or nothing when it does not exist.
resolve() {
  if [ -e "$1" ]; then readlink -f "$1" 2>/dev/null || true; fi
}

# The last value of KEY in the deploy record (key=value lines; the last one wins).
record_value() {
  sed -n "s/^$1=//p" "$record" 2>/dev/null | tail -n 1
}

# The system deploy last left running, or nothing when the record cannot tell.
expected_system() {
  active=$(record_value active_path)
  if [ -n "$active" ]; then
    printf '%s' "$active"
    return
  fi
  case $(record_value status) in
    confirmed | done)
      if [ "$(record_value mode)" = boot ]; then
        record_value prev_active
      else
        record_value new
      fi ;;
  esac
}

facts() {
  echo "# HELP devops_host_facts_timestamp_seconds When these host facts were written."
  echo "# TYPE devops_host_facts_timestamp_seconds gauge"
  echo "devops_host_facts_timestamp_seconds $(date +%s)"

  generation=$(readlink "$root/nix/var/nix/profiles/system" 2>/dev/null || true)
  generation=${generation%-link}
  generation=${generation##*-}
  case $generation in
    '' | *[!0-9]*) ;;
    *)
      echo "# HELP devops_system_generation The system profile's current generation."
      echo "# TYPE devops_system_generation gauge"
      echo "devops_system_generation $generation" ;;
  esac

  current=$(resolve "$root/run/current-system")
  booted=$(resolve "$root/run/booted-system")
  if [ -n "$current" ] && [ -n "$booted" ]; then
    reboot=0 parts=
    for part in kernel initrd kernel-modules systemd; do
      differs=0
      if [ "$(resolve "$booted/$part")" != "$(resolve "$current/$part")" ]; then reboot=1 differs=1; fi
      parts="${parts}devops_reboot_required_part{part=\"$part\"} $differs
"
    done
    echo "# HELP devops_reboot_required 1 when the running kernel, initrd, kernel modules or systemd differ from the current system's."
    echo "# TYPE devops_reboot_required gauge"
    echo "devops_reboot_required $reboot"
    echo "# HELP devops_reboot_required_part 1 when this part (kernel, initrd, kernel-modules, systemd) of the current system differs from the booted one's."
    echo "# TYPE devops_reboot_required_part gauge"
    printf '%s' "$parts"
  fi

  echo "# HELP devops_deploy_record_present 1 when deploy has left a record on this host."
  echo "# TYPE devops_deploy_record_present gauge"
  if [ -f "$record" ]; then
    echo "devops_deploy_record_present 1"
    expected=$(expected_system)
    if [ -n "$expected" ] && [ -n "$current" ]; then
      drift=0
      [ "$current" = "$(resolve "$root$expected")" ] || [ "$current" = "$root$expected" ] || drift=1
      echo "# HELP devops_system_drift 1 when the running system is not the one deploy last left running."
      echo "# TYPE devops_system_drift gauge"
      echo "devops_system_drift $drift"
    fi
  else
    echo "devops_deploy_record_present 0"
  fi

  if [ -n "$backups" ]; then
    echo "# HELP devops_backup_max_age_seconds How old the last successful backup may be."
    echo "# TYPE devops_backup_max_age_seconds gauge"
    echo "# HELP devops_backup_last_success_timestamp_seconds When the backup last succeeded."
    echo "# TYPE devops_backup_last_success_timestamp_seconds gauge"
    printf '%s\n' "$backups" | while IFS=: read -r name marker max_age; do
      [ -n "$name" ] || continue
      # printf, not echo: dash's echo would undo the escaped backslashes.
      printf 'devops_backup_max_age_seconds{backup="%s"} %s\n' "$(label "$name")" "$max_age"
      if [ -f "$root$marker" ]; then
        printf 'devops_backup_last_success_timestamp_seconds{backup="%s"} %s\n' \
          "$(label "$name")" "$(date -r "$root$marker" +%s)"
      fi
    done
  fi

  if command -v zpool >/dev/null 2>&1; then
    pools=$(zpool list -H -o name 2>/dev/null || true)
    if [ -n "$pools" ]; then
      echo "# HELP devops_zfs_pool_errors Read, write and checksum errors counted on a pool's devices."
      echo "# TYPE devops_zfs_pool_errors gauge"
      printf '%s\n' "$pools" | while IFS= read -r pool; do
        # The config table's READ WRITE CKSUM columns, summed over the pool and its devices.
        errors=$(zpool status -p "$pool" 2>/dev/null | awk '
          /^[[:space:]]*NAME[[:space:]]+STATE/ { table = 1; next }
          table && NF == 0 { table = 0 }
          table && NF >= 5 && $3 ~ /^[0-9]+$/ { sum += $3 + $4 + $5 }
          END { print sum + 0 }')
        printf 'devops_zfs_pool_errors{pool="%s"} %s\n' "$(label "$pool")" "$errors"
      done
    fi
  fi
}

# Root logins (sshd's "Accepted … for root from ADDRESS") within the window whose IPv4
# address is outside every admin network; any IPv6 address counts as outside.
root_logins_outside() {
  journalctl --quiet --no-pager --since="-$window" --output=cat _COMM=sshd 2>/dev/null |
    awk -v networks="$admin_networks" '
      function ip(a,   p) { split(a, p, "."); return ((p[1] * 256 + p[2]) * 256 + p[3]) * 256 + p[4] }
      function inside(a,   i, n, c, base, bits, span) {
        if (a !~ /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/) return 0
        n = split(networks, c, " ")
        for (i = 1; i <= n; i++) {
          split(c[i], base, "/"); bits = (base[2] == "" ? 32 : base[2]); span = 2 ^ (32 - bits)
          if (int(ip(a) / span) == int(ip(base[1]) / span)) return 1
        }
        return 0
      }
      /^Accepted [a-z-]+ for root from / { if (!inside($6)) count++ }
      END { print count + 0 }'
}

security() {
  if command -v journalctl >/dev/null 2>&1; then
    echo "# HELP devops_root_logins_outside_admin_networks Root logins over SSH from outside the admin networks in the last $window."
    echo "# TYPE devops_root_logins_outside_admin_networks gauge"
    echo "devops_root_logins_outside_admin_networks $(root_logins_outside)"
    echo "# HELP devops_sudo_refused Users refused by sudo (not in sudoers) in the last $window."
    echo "# TYPE devops_sudo_refused gauge"
    echo "devops_sudo_refused $(journalctl --quiet --no-pager --since="-$window" --output=cat _COMM=sudo 2>/dev/null |
      grep -c 'NOT in sudoers' || true)"
  fi
  if command -v fail2ban-client >/dev/null 2>&1; then
    jails=$(fail2ban-client status 2>/dev/null | sed -n 's/.*Jail list:[[:space:]]*//p' | tr ',' ' ')
    if [ -n "$jails" ]; then
      echo "# HELP devops_fail2ban_failed_total Failures fail2ban's jail has counted since it started."
      echo "# TYPE devops_fail2ban_failed_total counter"
      echo "# HELP devops_fail2ban_banned Addresses the jail blocks now."
      echo "# TYPE devops_fail2ban_banned gauge"
      for jail in $jails; do
        fail2ban-client status "$jail" 2>/dev/null | awk -F':[[:space:]]*' -v jail="$jail" '
          /Total failed/ { printf "devops_fail2ban_failed_total{jail=\"%s\"} %s\n", jail, $2 }
          /Currently banned/ { printf "devops_fail2ban_banned{jail=\"%s\"} %s\n", jail, $2 }'
      done
    fi
  fi
  echo "# HELP devops_log_shipping_enabled 1 when the host uploads its journal to the monitoring host."
  echo "# TYPE devops_log_shipping_enabled gauge"
  echo "devops_log_shipping_enabled $ships_logs"
  if [ -n "$received_logs" ] && [ -d "$received_logs" ]; then
    echo "# HELP devops_received_logs_last_timestamp_seconds The newest journal line received from a host."
    echo "# TYPE devops_received_logs_last_timestamp_seconds gauge"
    journalctl --directory="$received_logs" --field=_HOSTNAME 2>/dev/null | while IFS= read -r sender; do
      last=$(journalctl --directory="$received_logs" --quiet --no-pager --reverse --lines=1 \
        --output=export "_HOSTNAME=$sender" 2>/dev/null | sed -n 's/^__REALTIME_TIMESTAMP=//p')
      [ -n "$last" ] || continue
      printf 'devops_received_logs_last_timestamp_seconds{sender="%s"} %s\n' "$(label "$sender")" "$((last / 1000000))"
    done
  fi
}

all() {
  facts
  if [ "$with_security" = 1 ]; then security; fi
}

if [ -z "$out" ]; then
  all
else
  all > "$out.tmp"
  mv -f "$out.tmp" "$out"
fi
