#!/bin/sh
# Prints a host's facts as Prometheus text-format metrics, for the node exporter's textfile
# collector (the devops-host-facts unit writes them at activation and on a timer) and for any
# tool that asks a host the same questions: which generation it runs, whether a reboot is
# needed, whether it drifted from the last deploy, when each backup last succeeded.
#
# Usage: host-facts.sh [--out FILE] [--backup NAME:MARKER_FILE:MAX_AGE_SECONDS]...
#   --out     write FILE atomically (FILE.tmp, then rename) instead of standard output
#   --backup  a backup whose unit touches MARKER_FILE after each success, allowed MAX_AGE old
# DEVOPS_FACTS_ROOT prefixes every path read (tests point it at a fake root).
set -eu

root=${DEVOPS_FACTS_ROOT:-}
record=$root/nix/var/devops-deploy/last-deploy
out=
backups=

while [ $# -gt 0 ]; do
  case $1 in
    --out) [ $# -ge 2 ] || { echo "host-facts: --out needs a file" >&2; exit 2; }; out=$2; shift 2 ;;
    --backup)
      [ $# -ge 2 ] || { echo "host-facts: --backup needs NAME:FILE:SECONDS" >&2; exit 2; }
      backups="$backups
$2"
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
    reboot=0
    for part in kernel initrd kernel-modules systemd; do
      if [ "$(resolve "$booted/$part")" != "$(resolve "$current/$part")" ]; then reboot=1; fi
    done
    echo "# HELP devops_reboot_required 1 when the running kernel, initrd, kernel modules or systemd differ from the current system's."
    echo "# TYPE devops_reboot_required gauge"
    echo "devops_reboot_required $reboot"
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

if [ -z "$out" ]; then
  facts
else
  facts > "$out.tmp"
  mv -f "$out.tmp" "$out"
fi
