# The built-in health check: fails when a unit this deploy's activation started or restarted
# failed (arguments: the units failed before the deploy, as one space-separated word or many;
# they are not blamed on it). The units it judges are those whose invocation id differs from
# the snapshot in `$DEVOPS_UNITS_BEFORE` (UNITS_SNAPSHOT_SCRIPT) and, when
# `$DEVOPS_UNITS_LOG` names the activation's output, that the activation named in NixOS's
# `starting|restarting|reloading the following units: a, b` and `the following new units were
# started: …` lines (a unit something else started meanwhile — a timer's job, socket or D-Bus
# activation, an operator's `systemd-run` — is not the deploy's; an activation that names no
# unit leaves nothing to judge). They are watched
# for `$DEVOPS_UNITS_SETTLE` seconds, then for as long as one of them is still starting,
# stopping or waiting to restart, up to `$DEVOPS_UNITS_WAIT` seconds. The rest of the system
# is not judged: a boot job that still runs (systemd `starting`) or a unit this deploy did not
# touch does not fail it. Without a snapshot (a run started by an older deployer, a systemctl
# with no `show`) it falls back to every unit failed now and not before. Without systemd it
# passes (nothing to judge).
set -u
if [ -x /run/current-system/sw/bin/systemctl ]; then sc=/run/current-system/sw/bin/systemctl
elif [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then sc=systemctl
else echo "no systemd: nothing to check"; exit 0; fi
before=${DEVOPS_UNITS_BEFORE:-} settle=${DEVOPS_UNITS_SETTLE:-0} wait=${DEVOPS_UNITS_WAIT:-0}
blamed() { case " $* " in *" $unit "*) return 1 ;; esac; return 0; }
if [ -z "$before" ] || [ ! -s "$before" ]; then
  new=
  for unit in $("$sc" list-units --state=failed --no-legend --plain 2>/dev/null |
    while read -r name _; do printf '%s\n' "$name"; done); do
    blamed "$@" && new="$new $unit"
  done
  if [ -n "$new" ]; then echo "units failed since the activation:$new" >&2; exit 1; fi
  exit 0
fi
# The units the activation says it started, restarted or reloaded (NixOS's lines), when its log
# is given: a unit something else started meanwhile (a timer's job, an operator's systemd-run)
# is not this deploy's.
only=0 named=
if [ -n "${DEVOPS_UNITS_LOG:-}" ] && [ -r "$DEVOPS_UNITS_LOG" ]; then
  only=1
  named=$(sed -n -e 's/^starting the following units: //p' -e 's/^restarting the following units: //p' \
    -e 's/^reloading the following units: //p' -e 's/^the following new units were started: //p' \
    "$DEVOPS_UNITS_LOG")
fi
touched=$("$sc" show --property=Id,InvocationID '*' 2>/dev/null | awk '@INVOCATIONS_AWK@' |
  DEVOPS_UNITS_NAMED=$named awk -v before="$before" -v only="$only" 'BEGIN { while ((getline line < before) > 0) { n = split(line, f, " "); was[f[1]] = (n > 1 ? f[2] : "") }
      n = split(ENVIRON["DEVOPS_UNITS_NAMED"], u, /[ ,\n]+/); for (i = 1; i <= n; i++) if (u[i] != "") named[u[i]] = 1 }
    NF > 1 && $2 != was[$1] && (only == 0 || ($1 in named)) { print $1 }')
[ -n "$touched" ] || { echo "no unit started or restarted"; exit 0; }
start=$(date +%s)
while :; do
  failed='' busy=''
  # shellcheck disable=SC2086 # $touched: one unit name a word, split on purpose
  states=$("$sc" show --property=Id,ActiveState -- $touched 2>/dev/null |
    awk '/^Id=/ { id = substr($0, 4) } /^ActiveState=/ { print id, substr($0, 13) }')
  while read -r unit st; do
    [ -n "$unit" ] || continue
    case $st in
      failed) blamed "$@" && failed="$failed $unit" ;;
      activating|deactivating|reloading) busy="$busy $unit" ;;
    esac
  done <<EOF
$states
EOF
  if [ -n "$failed" ]; then echo "units this deploy started failed:$failed" >&2; exit 1; fi
  now=$(date +%s)
  if [ $((now - start)) -ge "$settle" ]; then
    [ -z "$busy" ] && exit 0
    if [ $((now - start)) -ge "$wait" ]; then
      echo "units this deploy started are still starting after $wait s:$busy" >&2; exit 1
    fi
  fi
  sleep 0.5 2>/dev/null || sleep 1
done
