# devops-deploy supervisor: lock, activate, wait for the confirmation, else roll back.
# The supervisor. Arguments: state-dir run new-system mode confirm-timeout activation-timeout
# rollback(0|1) profile current units-check-timeout (0: no check). It first takes the host's lock (LOCK_FILE; busy:
# status `busy`, nothing done; also busy while another run's supervisor lives, the lock
# removed by hand), puts the lock back if it is removed while it runs, and keeps its state in
# files of the state dir:
# - `status`: starting → activating → activated → confirmed | rolled-back-<why> |
#   rollback-failed-<why> | superseded-<why> | failed-<why> | done (one word, replaced
#   atomically)
# - `info`: key=value lines (run, by, new, mode, rollback, prev_gen, prev_path, prev_active,
#   new_gen, failed_before, units_check passed|failed and units_check_detail, rollback_error,
#   …)
# - `canary`: exists while the target waits; the deployer deletes it to confirm
# - `abort`: the deployer creates it when a health check failed: roll back now
# Once final it writes LAST_DEPLOY_RECORD, removes the state dir and releases the lock.
# A rollback puts the profile back to the recorded previous generation by number, only while
# the profile is still on the generation this run left it on (else, whatever the mode:
# `superseded-<why>`), and
# activates what ran before (prev_active): `switch` when it is the profile's system too, else
# `test` of it and `boot` of the profile's; each bounded by the activation timeout. A state
# dir removed during the run is re-created from memory and means roll back (`state-removed`). After a successful switch or test it
# runs the built-in check (UNITS_CHECK_SCRIPT, bounded by its timeout) while the
# status still says `activating`, so the launcher's session brings its result to the deployer
# and the confirm window starts after it.
set -u
dir=$1 run=$2 new=$3 mode=$4 timeout=$5 act_timeout=$6 rollback=$7 profile=$8 current=$9
check_timeout=${10:-0}
base=${dir%/*}
record=@LAST_DEPLOY_RECORD@
nl='
'
# What this run recorded, kept in memory too (builtins only: no fork per run).
saved=
while IFS= read -r line; do saved="$saved$line$nl"; done < "$dir/info"
state() { printf '%s\n' "$1" > "$dir/status.tmp" && mv -f "$dir/status.tmp" "$dir/status"; }
info() { printf '%s=%s\n' "$1" "$2" >> "$dir/info"; saved="$saved$1=$2$nl"; }
# The state dir removed by hand (an operator "cleaning up"): re-created with what this run
# recorded, so its rollback is recorded and another supervisor sees this one lives.
restore_dir() {
  [ -d "$dir" ] && return 0
  # shellcheck disable=SC2174 # the parent ($base) exists: -m is for $dir, the deepest
  mkdir -p -m 700 "$dir" 2>/dev/null || return 0
  printf '%s' "$saved" > "$dir/info"
  state "${1:-activated}"
}
# The check's scripts, single-quoted: they run later with sh -c, their $ expanded there.
# shellcheck disable=SC2016
units_check=@UNITS_CHECK_SCRIPT@
# shellcheck disable=SC2016
units_snapshot=@UNITS_SNAPSHOT_SCRIPT@
now() { date +%s; }
# Runs a command bounded by $1 seconds (exit 124 past it), its output to the file $2. Without
# timeout: in a session of its own where setsid is, so the bound ends all it started.
bounded() {
  b=$1 out=$2; shift 2
  if command -v timeout >/dev/null 2>&1; then timeout "$b" "$@" > "$out" 2>&1 9>&-; return; fi
  group=; command -v setsid >/dev/null 2>&1 && group=setsid
  $group "$@" > "$out" 2>&1 9>&- &
  cpid=$!
  cend=$(( $(now) + b + 1 )) polls=0
  while kill -0 "$cpid" 2>/dev/null; do
    if past "$cend"; then
      [ -n "$group" ] && kill -s KILL -- "-$cpid" 2>/dev/null
      kill -s KILL "$cpid" 2>/dev/null; wait "$cpid"; return 124
    fi
    pause
  done
  wait "$cpid"
}
# @include poll.sh
# @include alive.sh
lock=@LOCK_FILE@
# The lock is the file now at the lock's path: one removed by hand (and another supervisor's
# new one) is not it. /proc missing: the path is trusted.
# shellcheck disable=SC3013 # -ef: in the test builtin of bash (NixOS's sh), dash and busybox
ours() { [ ! -e "/proc/$$/fd/9" ] || [ "/proc/$$/fd/9" -ef "$lock" ]; }
locked=0
for _ in 1 2 3; do
  exec 9>>"$lock"
  flock -n 9 || break
  if ours; then locked=1; break; fi
done
if [ "$locked" = 0 ]; then state busy; exit 0; fi
# While it runs, the holder puts a removed lock file back, locked (a new file, locked first,
# then renamed into place), so a later supervisor finds it held.
keep_lock() {
  ours && return 0
  # exec with a failing redirection would end the shell: try the file first.
  (: >> "$lock.$$") 2>/dev/null || return 0
  exec 7>>"$lock.$$" && flock -n 7 && mv -f "$lock.$$" "$lock" && exec 9>&7 7>&-
}
# A supervisor of another run that still lives (its lock removed by hand, or an older
# deployer's lock file): the host is busy; nothing of that run is touched.
for other in "$base"/*/; do
  other=${other%/}
  [ "$other" = "$dir" ] || [ ! -f "$other/status" ] && continue
  case $(cat "$other/status" 2>/dev/null) in
    activating|rolling-back|activated)
      op=$(sed -n 's/^pid=//p' "$other/info" 2>/dev/null | tail -n 1)
      if [ -n "$op" ] && supervisor_alive "$op" "${other##*/}"; then state busy; exit 0; fi ;;
  esac
done
# The launcher tells a dead supervisor (killed mid-way) by this pid: nobody else finishes its run.
info pid "$$"
printf 'run=%s\n' "$run" > "$base/owner.tmp" && mv -f "$base/owner.tmp" "$base/owner"
finish() {
  state "$1"
  mkdir -p "${record%/*}"
  { echo "status=$1"; echo "time=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; cat "$dir/info"; } > "$record.tmp" 9>&- &&
    mv -f "$record.tmp" "$record"
  cat "$dir/activate.log" "$dir/rollback.log" "$dir/rollback-boot.log" \
    > "${record%/*}/last-activate.log" 2>/dev/null
  grep -qx "run=$run" "$base/owner" 2>/dev/null && rm -f "$base/owner"
  rm -rf "$dir"
  exit 0
}
gen() { l=$(readlink "$profile" 2>/dev/null) || return 0; l=${l%-link}; printf '%s' "${l##*-}"; }
# We hold the lock, so any other run still mid-way lost its supervisor (killed): stop its
# activation and put the profile back where that run found it, before this run starts.
for other in "$base"/*/; do
  other=${other%/}
  [ "$other" = "$dir" ] || [ ! -f "$other/status" ] && continue
  case $(cat "$other/status" 2>/dev/null) in
    starting|busy) continue ;;
    activating|rolling-back|activated)
      ap=$(sed -n 's/^apid=//p' "$other/info" 2>/dev/null | tail -n 1)
      [ -n "$ap" ] && kill -s KILL -- "-$ap" 2>/dev/null
      ng=$(sed -n 's/^new_gen=//p' "$other/info" 2>/dev/null | tail -n 1)
      pg=$(sed -n 's/^prev_gen=//p' "$other/info" 2>/dev/null | tail -n 1)
      if [ -n "$ng" ] && [ -n "$pg" ] && [ "$ng" != "$pg" ] && [ "$(gen)" = "$ng" ]; then
        nix-env -p "$profile" --switch-generation "$pg" >> "$dir/log" 2>&1 9>&-
        nix-env -p "$profile" --delete-generations "$ng" >> "$dir/log" 2>&1 9>&-
      fi
      info abandoned_run "${other##*/}" ;;
  esac
  rm -rf "$other"
done
info run "$run"; info new "$new"; info mode "$mode"; info rollback "$rollback"
info started "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
prev_gen=$(gen)
prev_path=$(readlink -f "$profile" 2>/dev/null) || prev_path=
[ -n "$prev_gen" ] && [ -e "$prev_path" ] || prev_path=
prev_active=$(readlink -f "$current" 2>/dev/null) || prev_active=
[ -n "$prev_active" ] && [ -e "$prev_active" ] || prev_active=$prev_path
info prev_gen "$prev_gen"; info prev_path "$prev_path"; info prev_active "$prev_active"
# Units that failed before this deploy: the deployer's check judges only the ones after it.
sc='' failed=
if [ -x "$current/sw/bin/systemctl" ]; then sc=$current/sw/bin/systemctl
elif [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then sc=systemctl; fi
if [ -n "$sc" ]; then
  # Bounded like the check: a systemctl that hangs must not hold the lock for good.
  lb=$check_timeout; [ "$lb" = 0 ] && lb=30
  # shellcheck disable=SC2016 # "$0" expands in the sh -c: it is $sc
  if bounded "$lb" "$dir/failed-before" sh -c '"$0" list-units --state=failed --no-legend --plain 2>/dev/null' "$sc"; then
    failed=$(while read -r unit _; do printf '%s ' "$unit"; done < "$dir/failed-before")
  fi
  info failed_before "$failed"
  # Every unit's invocation: the check judges the units the activation started or restarted.
  bounded "$lb" "$dir/units-before" sh -c "$units_snapshot" units-snapshot "$sc" ||
    rm -f "$dir/units-before"
fi
case $mode in switch|boot) sets=1 ;; *) sets=0 ;; esac
if [ "$sets" = 1 ]; then
  if ! nix-env -p "$profile" --set "$new" >> "$dir/log" 2>&1 9>&-; then finish failed-profile; fi
fi
new_gen=$(gen); info new_gen "$new_gen"
changed=0; [ "$sets" = 1 ] && [ "$new_gen" != "$prev_gen" ] && changed=1
in_window=0
# Runs switch-to-configuration of $1 with action $2, bounded by the activation's timeout, its
# output to the log $3.
switch_to() {
  [ -x "$1/bin/switch-to-configuration" ] || return 0
  rc=0
  bounded "$act_timeout" "$dir/$3" "$1/bin/switch-to-configuration" "$2" || rc=$?
  [ "$rc" = 0 ] && return 0
  if [ "$rc" = 124 ]; then info rollback_error "$2 of $1 ran over its $act_timeout s timeout"
  else info rollback_error "$2 of $1 exited $rc"; fi
  return 1
}
# Back to what ran before this run (prev_active), and the profile (what boots) back to where
# this run found it (prev_path): one switch when they are the same system, else a test of
# the one and a boot of the other. Not while someone else moved the profile: superseded.
roll_back() {
  restore_dir rolling-back
  state rolling-back
  ok=1
  cur=$(gen)
  # In the window the host runs this run's system: another one running means someone
  # activated it by hand (a switch, or a test that leaves the profile alone).
  ran=
  [ "$in_window" = 1 ] && { ran=$(readlink -f "$current" 2>/dev/null) || ran=; }
  [ -n "$ran" ] && [ "$ran" != "$new" ] && info superseded_current "$ran"
  if [ "$cur" != "$new_gen" ] || { [ -n "$ran" ] && [ "$ran" != "$new" ]; }; then
    # Someone else moved the profile (also in --mode test, or a switch to the profile's own
    # system, where this run did not move it): it is no longer this run's to undo. This run's
    # generation, if it made one, no longer the profile's, is deleted.
    info superseded_by "$cur"
    [ "$changed" = 1 ] && nix-env -p "$profile" --delete-generations "$new_gen" >> "$dir/log" 2>&1 9>&-
    info active_gen "$cur"
    finish "superseded-$1"
  fi
  if [ "$changed" = 1 ]; then
    if [ -n "$prev_gen" ]; then
      nix-env -p "$profile" --switch-generation "$prev_gen" >> "$dir/log" 2>&1 9>&- || ok=0
      nix-env -p "$profile" --delete-generations "$new_gen" >> "$dir/log" 2>&1 9>&- || ok=0
    else
      rm -f "$profile" "$profile-$new_gen-link" || ok=0
    fi
  fi
  case $mode in
    test) [ -n "$prev_active" ] && { switch_to "$prev_active" test rollback.log || ok=0; } ;;
    boot) [ -n "$prev_path" ] && { switch_to "$prev_path" boot rollback.log || ok=0; } ;;
    *)
      if [ -n "$prev_active" ] && [ "$prev_active" = "$prev_path" ]; then
        switch_to "$prev_active" switch rollback.log || ok=0
      else
        [ -n "$prev_active" ] && { switch_to "$prev_active" test rollback.log || ok=0; }
        [ -n "$prev_path" ] && { switch_to "$prev_path" boot rollback-boot.log || ok=0; }
      fi ;;
  esac
  info active_gen "$(gen)"
  info active_path "$(readlink -f "$current" 2>/dev/null)"
  if [ "$ok" = 1 ]; then finish "rolled-back-$1"; else finish "rollback-failed-$1"; fi
}
[ "$rollback" = 1 ] && : > "$dir/canary"
state activating
# The activation in a session of its own, so a timeout kills all of it.
if command -v setsid >/dev/null 2>&1; then
  setsid "$new/bin/switch-to-configuration" "$mode" > "$dir/activate.log" 2>&1 9>&- &
else
  "$new/bin/switch-to-configuration" "$mode" > "$dir/activate.log" 2>&1 9>&- &
fi
apid=$!
info apid "$apid"
end=$(( $(now) + act_timeout ))
timed_out=0 polls=0
while kill -0 "$apid" 2>/dev/null; do
  if past "$end"; then
    timed_out=1
    kill -s TERM -- "-$apid" 2>/dev/null || kill -s TERM "$apid" 2>/dev/null
    sleep 1
    kill -s KILL -- "-$apid" 2>/dev/null || kill -s KILL "$apid" 2>/dev/null
    break
  fi
  [ $((polls % 5)) -eq 0 ] && keep_lock
  pause
done
wait "$apid"
code=$?
info activate_code "$code"
if [ ! -d "$dir" ]; then
  restore_dir activating
  [ "$rollback" = 1 ] && roll_back state-removed
fi
if [ "$timed_out" = 1 ]; then
  if [ "$rollback" = 1 ]; then roll_back activation-timeout; else finish failed-activation-timeout; fi
fi
if [ "$code" != 0 ]; then
  if [ "$rollback" = 1 ]; then roll_back activation; else finish failed-activation; fi
fi
case $mode in
  switch|test) info active_gen "$new_gen" ;;
  # boot: the host runs what it ran until it reboots.
  *) [ -n "$prev_active" ] && [ "$prev_active" = "$prev_path" ] && info active_gen "$prev_gen"
     finish 'done' ;;
esac
# The built-in check, here so that the deployer needs no session of its own for it.
check_units() {
  settle=$(( check_timeout / 2 )); [ "$settle" -gt @UNITS_SETTLE_SECONDS@ ] && settle=@UNITS_SETTLE_SECONDS@
  bounded "$check_timeout" "$dir/check.log" env DEVOPS_UNITS_BEFORE="$dir/units-before" \
    DEVOPS_UNITS_LOG="$dir/activate.log" DEVOPS_UNITS_SETTLE="$settle" DEVOPS_UNITS_WAIT=$(( check_timeout - 1 )) \
    sh -c "$units_check" units-check "$failed"
}
if [ "$check_timeout" != 0 ]; then
  check_code=0
  check_units || check_code=$?
  if [ "$check_code" = 0 ]; then
    info units_check passed
  else
    if [ "$check_code" = 124 ]; then why="timed out after $check_timeout s"
    else why=$(tr '\n' ' ' < "$dir/check.log"); fi
    info units_check failed
    info units_check_detail "${why:-exited with code $check_code}"
  fi
fi
[ "$rollback" = 1 ] || finish 'done'
in_window=1
state activated
# The confirm window starts when the activation (and its check) has ended.
end=$(( $(now) + timeout ))
polls=0
while :; do
  # A missing state dir is no confirmation: only the canary's removal is.
  [ -d "$dir" ] || roll_back state-removed
  [ -e "$dir/canary" ] || break
  if [ -e "$dir/abort" ]; then roll_back health-check; fi
  if past "$end"; then roll_back timeout; fi
  [ $((polls % 5)) -eq 0 ] && keep_lock
  pause
done
[ -d "$dir" ] || roll_back state-removed
finish confirmed
