# The launcher, run as root over the activation SSH session. Arguments: supervisor-script run
# adopt activation-wait by, then the supervisor's own arguments after the state dir and run. It creates
# the state dir (0700; fails if the name exists, so nobody can prepare it), starts the
# supervisor outside the SSH session (a transient systemd unit when systemd runs, else
# `setsid nohup`), waits (bounded) for the activation's outcome and prints the state.
#
# `adopt` names the run of a dead deployer whose supervisor still holds the lock: when it
# activated the same system it is adopted (its state is printed with `adopted=1`, and the
# deployer checks and confirms it); else it is told to roll back, and the launcher waits for
# the lock (bounded) before starting its own run.
set -eu
script=$1 run=$2 adopt=$3 wait=$4 by=$5; shift 5
new=$1
base=@STATE_BASE@
case $run in *[!0-9a-f]*|'') echo "not a run id: $run" >&2; exit 2 ;; esac
case $adopt in *[!0-9a-f]*) echo "not a run id: $adopt" >&2; exit 2 ;; esac
umask 077
# shellcheck disable=SC2174 # the parent (/run) exists: -m is for $base, the deepest
mkdir -p -m 700 "$base"
# @include show_state.sh
# @include alive.sh

# @include poll.sh
end=$(( $(date +%s) + wait ))
if [ -n "$adopt" ] && grep -qx "run=$adopt" "$base/owner" 2>/dev/null; then
  while :; do
    read_status "$adopt"
    case $s in starting|activating|rolling-back) ;; *) break ;; esac
    # Its supervisor died meanwhile: nothing will change its state; this run takes over.
    [ $((polls % 5)) -eq 0 ] && lost "$adopt" && break
    past "$end" && break
    pause
  done
  # Adopted only when it does what this run would: same system, mode and rollback.
  if [ "$s" = activated ] && [ "$(info_of "$adopt" new)" = "$new" ] &&
    [ "$(info_of "$adopt" mode)" = "$2" ] && [ "$(info_of "$adopt" rollback)" = "$5" ]; then
    echo "adopted=1"; echo "dir=$base/$adopt"; show "$adopt"; exit 0
  fi
  [ "$s" = activated ] && : > "$base/$adopt/abort"
  # One deadline for the whole wait: the rest of it for the lock.
  left=$(( end - $(date +%s) )); [ "$left" -gt 0 ] || left=1
  exec 8>>@LOCK_FILE@
  flock -w "$left" 8 || true
  exec 8>&-
  # This run's own wait starts now (the deployer's step allows for both).
  end=$(( $(date +%s) + wait ))
fi
dir=$base/$run
mkdir -m 700 "$dir"
printf '%s\n' "$script" > "$dir/supervise.sh"
printf 'starting\n' > "$dir/status"
# Who deploys goes to a file, not the supervisor's command line.
printf 'by=%s\n' "$by" > "$dir/info"
sh=$(command -v sh)
if command -v systemd-run >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemd-run --quiet --collect --unit "devops-deploy-$run" --setenv=PATH="$PATH" \
    "$sh" "$dir/supervise.sh" "$dir" "$run" "$@"
  echo "supervisor=systemd-run"
else
  setsid nohup "$sh" "$dir/supervise.sh" "$dir" "$run" "$@" < /dev/null >> "$dir/log" 2>&1 &
  echo "supervisor=setsid"
fi
echo "dir=$dir"
polls=0
while :; do
  read_status "$run"
  # gone: the state dir was removed by hand; the supervisor re-creates it (bounded wait).
  case $s in starting|activating|rolling-back|gone) ;; *) break ;; esac
  if [ $((polls % 5)) -eq 0 ] && lost "$run"; then echo "supervisor_lost=1"; break; fi
  past "$end" && break
  pause
done
if [ "$s" = busy ]; then
  holder=$(sed -n 's/^run=//p' "$base/owner" 2>/dev/null) || holder=
  rm -rf "$dir"
  echo "status=busy"
  echo "holder_run=$holder"
  [ -n "$holder" ] && read_status "$holder" && echo "holder_status=$s" &&
    sed -n 's/^\(by\|started\|new\)=/holder_\1=/p' "$base/$holder/info" 2>/dev/null
  exit 0
fi
show "$run"
