// What runs on the target: the POSIX-sh supervisor (lock, activation, magic rollback), the
// launcher that starts it detached from the SSH session, the control script that confirms it,
// the probe and the check that no unit failed because of the deploy.
import { shellQuote } from "../lib/quote.ts";
import { UNITS_CHECK_SCRIPT, UNITS_SETTLE_SECONDS, UNITS_SNAPSHOT_SCRIPT } from "./units_check.ts";

/** The system profile on NixOS. */
export const SYSTEM_PROFILE = "/nix/var/nix/profiles/system";
/** The running system on NixOS. */
export const CURRENT_SYSTEM = "/run/current-system";
/** One deploy per host at a time: the supervisor holds a flock on this file until its run is final. */
export const LOCK_FILE = "/run/devops-deploy.lock";
/** Per-run state dirs `<base>/<run id>` (0700), removed once the run is final. */
export const STATE_BASE = "/run/devops-deploy";
/** The last deploy of the host (key=value lines): run id, time, generations, result. */
export const LAST_DEPLOY_RECORD = "/nix/var/devops-deploy/last-deploy";

/** The built-in health check (units_check.ts); the supervisor runs it after the activation. */
export { UNITS_CHECK_SCRIPT } from "./units_check.ts";

/**
 * How the target's scripts wait: a builtin test each poll, `sleep` 0.05 s for the first
 * twenty polls (about a second: a quick answer stays quick) and 0.2 s after, and the clock (a
 * `date` fork) only every fifth poll. With dozens of hosts waiting at once on one machine,
 * forking `sleep`, `date` and `cat` every 0.05 s took the CPU the SSH handshakes needed. A
 * bound is passed at most five polls (≤ 1 s) late. `polls=0` before each wait.
 */
const POLL = String.raw`polls=0
pause() {
  polls=$((polls + 1))
  if [ "$polls" -le 20 ]; then sleep 0.05 2>/dev/null || sleep 1
  else sleep 0.2 2>/dev/null || sleep 1; fi
}
past() { [ $((polls % 5)) -eq 0 ] && [ "$(date +%s)" -ge "$1" ]; }
`;

/**
 * The supervisor. Arguments: state-dir run new-system mode confirm-timeout activation-timeout
 * rollback(0|1) profile current units-check-timeout (0: no check). It first takes the host's lock ({@linkcode LOCK_FILE}; busy:
 * status `busy`, nothing done; also busy while another run's supervisor lives, the lock
 * removed by hand), puts the lock back if it is removed while it runs, and keeps its state in
 * files of the state dir:
 * - `status`: starting → activating → activated → confirmed | rolled-back-<why> |
 *   rollback-failed-<why> | superseded-<why> | failed-<why> | done (one word, replaced
 *   atomically)
 * - `info`: key=value lines (run, by, new, mode, rollback, prev_gen, prev_path, prev_active,
 *   new_gen, failed_before, units_check passed|failed and units_check_detail, rollback_error,
 *   …)
 * - `canary`: exists while the target waits; the deployer deletes it to confirm
 * - `abort`: the deployer creates it when a health check failed: roll back now
 * Once final it writes {@linkcode LAST_DEPLOY_RECORD}, removes the state dir and releases the lock.
 * A rollback puts the profile back to the recorded previous generation by number, only while
 * the profile is still on the generation this run left it on (else, whatever the mode:
 * `superseded-<why>`), and
 * activates what ran before (prev_active): `switch` when it is the profile's system too, else
 * `test` of it and `boot` of the profile's; each bounded by the activation timeout. A state
 * dir removed during the run is re-created from memory and means roll back (`state-removed`). After a successful switch or test it
 * runs the built-in check ({@linkcode UNITS_CHECK_SCRIPT}, bounded by its timeout) while the
 * status still says `activating`, so the launcher's session brings its result to the deployer
 * and the confirm window starts after it.
 */
export const SUPERVISOR_SCRIPT = String
  .raw`# devops-deploy supervisor: lock, activate, wait for the confirmation, else roll back.
set -u
dir=$1 run=$2 new=$3 mode=$4 timeout=$5 act_timeout=$6 rollback=$7 profile=$8 current=$9
check_timeout=\${10:-0}
base=\${dir%/*}
record=${LAST_DEPLOY_RECORD}
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
  mkdir -p -m 700 "$dir" 2>/dev/null || return 0
  printf '%s' "$saved" > "$dir/info"
  state "\${1:-activated}"
}
units_check=${shellQuote(UNITS_CHECK_SCRIPT)}
units_snapshot=${shellQuote(UNITS_SNAPSHOT_SCRIPT)}
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
${POLL}lock=${LOCK_FILE}
# The lock is the file now at the lock's path: one removed by hand (and another supervisor's
# new one) is not it. /proc missing: the path is trusted.
ours() { [ ! -e "/proc/$$/fd/9" ] || [ "/proc/$$/fd/9" -ef "$lock" ]; }
locked=0
for try in 1 2 3; do
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
  other=\${other%/}
  [ "$other" = "$dir" ] || [ ! -f "$other/status" ] && continue
  case $(cat "$other/status" 2>/dev/null) in
    activating|rolling-back|activated)
      op=$(sed -n 's/^pid=//p' "$other/info" 2>/dev/null | tail -n 1)
      if [ -n "$op" ] && kill -0 "$op" 2>/dev/null; then state busy; exit 0; fi ;;
  esac
done
# The launcher tells a dead supervisor (killed mid-way) by this pid: nobody else finishes its run.
info pid "$$"
printf 'run=%s\n' "$run" > "$base/owner.tmp" && mv -f "$base/owner.tmp" "$base/owner"
finish() {
  state "$1"
  mkdir -p "\${record%/*}"
  { echo "status=$1"; echo "time=$(date -u +%Y-%m-%dT%H:%M:%SZ)"; cat "$dir/info"; } > "$record.tmp" 9>&- &&
    mv -f "$record.tmp" "$record"
  cat "$dir/activate.log" "$dir/rollback.log" "$dir/rollback-boot.log" \
    > "\${record%/*}/last-activate.log" 2>/dev/null
  grep -qx "run=$run" "$base/owner" 2>/dev/null && rm -f "$base/owner"
  rm -rf "$dir"
  exit 0
}
gen() { l=$(readlink "$profile" 2>/dev/null) || return 0; l=\${l%-link}; printf '%s' "\${l##*-}"; }
# We hold the lock, so any other run still mid-way lost its supervisor (killed): stop its
# activation and put the profile back where that run found it, before this run starts.
for other in "$base"/*/; do
  other=\${other%/}
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
      info abandoned_run "\${other##*/}" ;;
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
sc= failed=
if [ -x "$current/sw/bin/systemctl" ]; then sc=$current/sw/bin/systemctl
elif [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then sc=systemctl; fi
if [ -n "$sc" ]; then
  # Bounded like the check: a systemctl that hangs must not hold the lock for good.
  lb=$check_timeout; [ "$lb" = 0 ] && lb=30
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
     finish done ;;
esac
# The built-in check, here so that the deployer needs no session of its own for it.
check_units() {
  settle=$(( check_timeout / 2 )); [ "$settle" -gt ${UNITS_SETTLE_SECONDS} ] && settle=${UNITS_SETTLE_SECONDS}
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
    info units_check_detail "\${why:-exited with code $check_code}"
  fi
fi
[ "$rollback" = 1 ] || finish done
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
`.replaceAll("\\${", "${");

/** Prints the state of run `$run`: its state dir while it lives, else the last-deploy record. */
const SHOW_STATE = String.raw`show() {
  # The supervisor writes the record before it removes the dir: one of the two is whole.
  if s=$(cat "$base/$1/status" 2>/dev/null) && i=$(cat "$base/$1/info" 2>/dev/null); then
    echo "status=$s"; printf '%s
' "$i"
  elif grep -qx "run=$1" ${LAST_DEPLOY_RECORD} 2>/dev/null; then
    cat ${LAST_DEPLOY_RECORD}
  else
    # Neither: the host lost the run's state (a reboot empties /run) or never had it. What
    # it runs now tells the deployer what to report.
    echo "status=gone"
    c=$(readlink -f ${CURRENT_SYSTEM} 2>/dev/null) && echo "current=$c"
  fi
}
# Sets s to the status of run $1; while the state dir lives, with no fork (read is a builtin).
read_status() {
  s=
  read -r s 2>/dev/null < "$base/$1/status" && [ -n "$s" ] && return 0
  if grep -qx "run=$1" ${LAST_DEPLOY_RECORD} 2>/dev/null; then
    s=$(sed -n 's/^status=//p' ${LAST_DEPLOY_RECORD})
  fi
  [ -n "$s" ] || s=gone
}
info_of() { sed -n "s/^$2=//p" "$base/$1/info" 2>/dev/null | tail -n 1; }
# Whether run $1's supervisor died mid-way: its pid is gone while its status is not final (it
# writes a final status before it exits). Then nothing rolls the host back by itself.
lost() {
  p=$(info_of "$1" pid)
  [ -n "$p" ] && ! kill -0 "$p" 2>/dev/null || return 1
  read_status "$1"
  case $s in starting|activating|rolling-back|activated) return 0 ;; esac
  return 1
}
`;

/**
 * The launcher, run as root over the activation SSH session. Arguments: supervisor-script run
 * adopt activation-wait by, then the supervisor's own arguments after the state dir and run. It creates
 * the state dir (0700; fails if the name exists, so nobody can prepare it), starts the
 * supervisor outside the SSH session (a transient systemd unit when systemd runs, else
 * `setsid nohup`), waits (bounded) for the activation's outcome and prints the state.
 *
 * `adopt` names the run of a dead deployer whose supervisor still holds the lock: when it
 * activated the same system it is adopted (its state is printed with `adopted=1`, and the
 * deployer checks and confirms it); else it is told to roll back, and the launcher waits for
 * the lock (bounded) before starting its own run.
 */
export const LAUNCHER_SCRIPT = String.raw`set -eu
script=$1 run=$2 adopt=$3 wait=$4 by=$5; shift 5
new=$1
base=${STATE_BASE}
case $run in *[!0-9a-f]*|'') echo "not a run id: $run" >&2; exit 2 ;; esac
case $adopt in *[!0-9a-f]*) echo "not a run id: $adopt" >&2; exit 2 ;; esac
umask 077
mkdir -p -m 700 "$base"
${SHOW_STATE}
${POLL}end=$(( $(date +%s) + wait ))
if [ -n "$adopt" ] && grep -qx "run=$adopt" "$base/owner" 2>/dev/null; then
  while :; do
    read_status "$adopt"
    case $s in starting|activating|rolling-back) ;; *) break ;; esac
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
  exec 8>>${LOCK_FILE}
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
`;

/** Actions of the control script. */
export type ControlAction = "confirm" | "abort" | "status";

/**
 * The control script, run as root over a new SSH connection. Arguments: run action
 * wait-seconds. `confirm` deletes the canary, `abort` asks for a rollback; then it waits up
 * to wait-seconds for a final state (`status`: for any state but a passing one) and prints it
 * (from the last-deploy record once the state dir is gone).
 */
export const CONTROL_SCRIPT = String.raw`set -eu
run=$1 action=$2 wait=$3
base=${STATE_BASE}
case $run in *[!0-9a-f]*|'') echo "not a run id: $run" >&2; exit 2 ;; esac
${SHOW_STATE}
dir=$base/$run
if [ -d "$dir" ]; then
  case $action in confirm) rm -f "$dir/canary" ;; abort) : > "$dir/abort" ;; esac
fi
${POLL}end=$(( $(date +%s) + wait ))
while :; do
  read_status "$run"
  if [ $((polls % 5)) -eq 0 ] && lost "$run"; then echo "supervisor_lost=1"; break; fi
  case $s in starting|activating|rolling-back) ;; activated) [ "$action" = status ] && break ;; *) break ;; esac
  past "$end" && break
  pause
done
show "$run"
`;

/** Bytes of a health check's output (each of stdout, stderr) that reach the deployer: the last ones. */
export const HEALTH_CHECK_OUTPUT_TAIL = 65536;
/** A health check's output files are bounded (`ulimit -f`, in 512-byte blocks: 8 MiB). */
const HEALTH_CHECK_OUTPUT_BLOCKS = 16384;

/**
 * Runs a health check (arguments: seconds, the check's command) with the login shell's `-c`, as
 * sshd would run it, bounded on the target. The checks share the host's connection, where the deployer killing its ssh client
 * would not end the remote command (the master holds the client's output open until it ends);
 * so the bound is kept where the check runs: `timeout` (TERM, then KILL 3 s later), else the
 * check in the background (a session of its own with `setsid`), its process group killed at the
 * bound. Ran over the bound: exit code 124.
 *
 * The check writes to files in a private temp dir, printed when it ends: a process it leaves
 * behind (a daemon it started, a child the bound did not reach) holds a file, not the session,
 * so the session ends with the check. The files are bounded (`ulimit -f`, about 8 MiB: a check
 * printing more is ended by SIGXFSZ, exit code 153, and fails) and only the last
 * {@linkcode HEALTH_CHECK_OUTPUT_TAIL} bytes of each reach the deployer. With no temp dir
 * (no `mktemp`, nothing writable) the output goes to the session as it comes, as before.
 */
export const HEALTH_CHECK_SCRIPT = String.raw`t=$1 check=$2 shell=\${SHELL:-sh}
# No temp dir (no mktemp, nothing writable): the output goes to the session as it comes.
d=$(mktemp -d 2>/dev/null) || d=$(TMPDIR=/tmp mktemp -d 2>/dev/null) || d=
if [ -n "$d" ]; then exec 3> "$d/out" 4> "$d/err"; else exec 3>&1 4>&2; fi
if command -v timeout >/dev/null 2>&1; then
  (ulimit -f ${HEALTH_CHECK_OUTPUT_BLOCKS} 2>/dev/null; exec timeout -k 3 "$t" "$shell" -c "$check") \
    < /dev/null >&3 2>&4 3>&- 4>&-
  code=$?
else
  group=; command -v setsid >/dev/null 2>&1 && group=setsid
  (ulimit -f ${HEALTH_CHECK_OUTPUT_BLOCKS} 2>/dev/null; exec $group "$shell" -c "$check") \
    < /dev/null >&3 2>&4 3>&- 4>&- &
  pid=$!
  # +1: whole seconds; the check gets at least its t seconds.
  ${POLL}end=$(( $(date +%s) + t + 1 ))
  code=
  while kill -0 "$pid" 2>/dev/null; do
    if past "$end"; then
      [ -n "$group" ] && kill -s KILL -- "-$pid" 2>/dev/null
      kill -s KILL "$pid" 2>/dev/null
      code=124; break
    fi
    pause
  done
  if [ -z "$code" ]; then wait "$pid"; code=$?; fi
fi
exec 3>&- 4>&-
if [ -n "$d" ]; then
  tail -c ${HEALTH_CHECK_OUTPUT_TAIL} "$d/out"
  tail -c ${HEALTH_CHECK_OUTPUT_TAIL} "$d/err" >&2
  rm -rf "$d"
fi
[ "$code" = 153 ] && echo "health check: printed more than its output bound (about 8 MiB); ended" >&2
exit "$code"
`.replaceAll("\\${", "${");

/** Separates the probe's key=value lines from the closure diff. */
export const DIFF_MARKER = "--- closure diff";
/** Follows the closure diff when it failed, then the last line nix printed. */
export const DIFF_FAILED_MARKER = "--- closure diff failed";

/**
 * The probe, after the copy: the current generation, the profile's and the running system,
 * then (argument: the new system) `nix store diff-closures` from the current system to the
 * new one, run on the target where both closures are; `nix-command` is enabled for this
 * call only. The diff is information: when it fails (nix < 2.4 has no `store
 * diff-closures`), the probe says so after {@linkcode DIFF_FAILED_MARKER} and still succeeds.
 */
export const PROBE_SCRIPT = String.raw`l=$(readlink ${SYSTEM_PROFILE} 2>/dev/null) || l=
l=\${l%-link}; [ -n "$l" ] && echo "gen=\${l##*-}"
p=$(readlink -f ${SYSTEM_PROFILE} 2>/dev/null) && [ -e "$p" ] || p=
c=$(readlink -f ${CURRENT_SYSTEM} 2>/dev/null) && [ -e "$c" ] || c=
[ -n "$p" ] && echo "profile=$p"
[ -n "$c" ] && echo "current=$c"
before=\${p:-$c}
if [ -n "\${1:-}" ] && [ -n "$before" ]; then
  echo "${DIFF_MARKER}"
  e=$(mktemp 2>/dev/null) || e=/dev/null
  if ! nix --extra-experimental-features nix-command store diff-closures "$before" "$1" 2> "$e"; then
    echo "${DIFF_FAILED_MARKER}"
    [ "$e" = /dev/null ] || grep -v '^[[:space:]]*$' "$e" | tail -n 1
  fi
  [ "$e" = /dev/null ] || rm -f "$e"
fi
true
`.replaceAll("\\${", "${");

/** The state the launcher and the control script print. */
export interface RemoteState {
  status: string;
  dir?: string;
  run?: string;
  supervisor?: string;
  prevGen?: number;
  newGen?: number;
  activeGen?: number;
  activateCode?: number;
  /** The previous run's supervisor was adopted (same system, its deployer gone). */
  adopted?: boolean;
  /** Units failed before the activation (systemd hosts). */
  failedBefore?: string[];
  /** The profile moved away from this run's generation before its rollback. */
  supersededBy?: number;
  /** The system someone else activated on the host during the run's window. */
  supersededCurrent?: string;
  /** Why the rollback's activation failed (it is bounded by the activation timeout). */
  rollbackError?: string;
  /** The system the host runs (`status=gone`: the run's state is lost, e.g. a reboot). */
  current?: string;
  /** The run's supervisor died mid-way (killed): nothing rolls the host back by itself. */
  supervisorLost?: boolean;
  /** The built-in check the supervisor ran after the activation (switch and test). */
  unitsCheck?: UnitsCheck;
  /** Who holds the host's lock (status `busy`). */
  holder?: { run?: string; status?: string; by?: string; started?: string; new?: string };
}

/** The built-in check's result: no unit failed since the activation, or which did. */
export type UnitsCheck = { passed: true } | { passed: false; detail: string };

/** Parses `key=value` lines into a {@linkcode RemoteState}. */
export function parseRemoteState(text: string): RemoteState {
  const values = parseKeyValues(text);
  const num = (v: string | undefined) => (v && /^\d+$/.test(v) ? Number(v) : undefined);
  const state: RemoteState = { status: values.status ?? "unknown" };
  if (values.dir) state.dir = values.dir;
  if (values.run) state.run = values.run;
  if (values.supervisor) state.supervisor = values.supervisor;
  if (values.adopted === "1") state.adopted = true;
  if (values.supervisor_lost === "1") state.supervisorLost = true;
  if (values.rollback_error) state.rollbackError = values.rollback_error;
  if (values.current) state.current = values.current;
  if (values.superseded_current) state.supersededCurrent = values.superseded_current;
  if (values.units_check === "passed") state.unitsCheck = { passed: true };
  else if (values.units_check === "failed") {
    state.unitsCheck = { passed: false, detail: values.units_check_detail || "failed" };
  }
  if (values.failed_before !== undefined) {
    state.failedBefore = values.failed_before.split(/\s+/).filter(Boolean);
  }
  const fields = [
    ["prevGen", num(values.prev_gen)],
    ["newGen", num(values.new_gen)],
    ["activeGen", num(values.active_gen)],
    ["activateCode", num(values.activate_code)],
    ["supersededBy", num(values.superseded_by)],
  ] as const;
  for (const [key, value] of fields) if (value !== undefined) state[key] = value;
  if (state.status === "busy") {
    const holder: NonNullable<RemoteState["holder"]> = {};
    for (const key of ["run", "status", "by", "started", "new"] as const) {
      const value = values[`holder_${key}`];
      if (value) holder[key] = value;
    }
    state.holder = holder;
  }
  return state;
}

/** `key=value` lines as a record; the last value of a key wins. */
export function parseKeyValues(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) values[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return values;
}

/** Whether a status is final: the supervisor will not change it any more. */
export function isFinalStatus(status: string): boolean {
  return status === "confirmed" || status === "done" ||
    /^(rolled-back|rollback-failed|failed|superseded)-/.test(status);
}

/** Runs `script` with `sh -c` and arguments, as one remote command string. */
export function shCommand(script: string, args: readonly string[]): string {
  return ["sh", "-c", script, "devops-deploy", ...args].map(shellQuote).join(" ");
}
