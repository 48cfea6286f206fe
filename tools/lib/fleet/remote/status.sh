# A host's status in one go (`deno task status`), in three sections. `--- facts`: the host facts
# of monitoring/host-facts.sh (run from its text, with --facts-only), the one definition of the
# generation, reboot-needed, drift from the last deploy and backup age that the node exporter's
# metrics also use. `--- status`: what only status shows (key=value lines): the running and
# booted systems, when the generation was made, failed units (one `failed_unit=` line each),
# uptime, load and free space. `--- record`: the last deploy record, as the supervisor wrote it.
set -u
echo "--- facts"
# The kopia module's service writes this marker after each success (service-kopia.nix); no
# max age is known here (it is the monitoring role's), so 0: status shows the age only.
backup=
if [ -e /etc/systemd/system/kopia-backup.service ]; then
  backup="--backup kopia:/var/lib/kopia-backup/last-success:0"
fi
# shellcheck disable=SC2086 # $backup: two words or none, split on purpose
sh -c @HOST_FACTS_SCRIPT@ host-facts --facts-only $backup 2>/dev/null || echo "# host-facts failed: $?"
echo "--- status"
# The store path a link resolves to, or nothing when it does not exist (as host-facts.sh).
resolve() { if [ -e "$1" ]; then readlink -f "$1" 2>/dev/null || true; fi; }
printf 'current=%s\n' "$(resolve @CURRENT_SYSTEM@)"
printf 'booted=%s\n' "$(resolve /run/booted-system)"
profile=@SYSTEM_PROFILE@
if link=$(readlink "$profile" 2>/dev/null); then
  case $link in /*) ;; *) link=${profile%/*}/$link ;; esac
  printf 'generation_time=%s\n' "$(stat -c %Y -- "$link" 2>/dev/null)"
fi
printf 'now=%s\n' "$(date +%s)"
up=''
read -r up _ < /proc/uptime 2>/dev/null
printf 'uptime=%s\n' "${up%%.*}"
l1='' l5='' l15=''
read -r l1 l5 l15 _ < /proc/loadavg 2>/dev/null
printf 'load=%s %s %s\n' "$l1" "$l5" "$l15"
# Bytes free (df -P: 1024-byte blocks) on the file systems of / and /nix.
free() { df -Pk -- "$1" 2>/dev/null | awk 'NR == 2 { printf "%.0f", $4 * 1024 }'; }
printf 'free_root=%s\n' "$(free /)"
printf 'free_nix=%s\n' "$(free /nix)"
# Failed units, as the deploy's supervisor lists them; bounded: a stuck manager must not hold
# the answer past the caller's wait.
sc=
if [ -x @CURRENT_SYSTEM@/sw/bin/systemctl ]; then sc=@CURRENT_SYSTEM@/sw/bin/systemctl
elif [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then sc=systemctl; fi
if [ -n "$sc" ]; then
  bound=; command -v timeout >/dev/null 2>&1 && bound="timeout 5"
  # shellcheck disable=SC2086 # $bound: two words or none
  if units=$($bound "$sc" list-units --state=failed --no-legend --plain 2>/dev/null); then
    echo "units=listed"
    printf '%s\n' "$units" | while read -r name _; do
      [ -n "$name" ] && printf 'failed_unit=%s\n' "$name"
    done
  else
    echo "units=unknown"
  fi
else
  echo "units=no-systemd"
fi
echo "--- record"
cat @LAST_DEPLOY_RECORD@ 2>/dev/null
exit 0
