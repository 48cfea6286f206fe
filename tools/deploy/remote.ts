// What runs on the target: the POSIX-sh supervisor (activation + magic rollback), the launcher
// that starts it detached from the SSH session, and the control script that confirms it.
import { shellQuote } from "../lib/quote.ts";

/** The system profile on NixOS. */
export const SYSTEM_PROFILE = "/nix/var/nix/profiles/system";
/** The running system on NixOS. */
export const CURRENT_SYSTEM = "/run/current-system";

/**
 * The supervisor. Arguments: state-dir new-system mode timeout rollback(0|1) profile current.
 * It keeps its state in files of the state dir (created 0700 by the launcher):
 * - `status`: starting → activating → activated → confirmed | rolled-back-<why> |
 *   rollback-failed-<why> | failed-<why> | done (one word, replaced atomically)
 * - `info`: key=value lines (prev_gen, prev_path, new_gen, …)
 * - `canary`: exists while the target waits; the deployer deletes it to confirm
 * - `abort`: the deployer creates it when a health check failed: roll back now
 * - `log`, `activate.log`, `rollback.log`: output of the commands
 */
export const SUPERVISOR_SCRIPT = String
  .raw`# devops-deploy supervisor: activate, wait for the confirmation, else roll back.
set -u
dir=$1 new=$2 mode=$3 timeout=$4 rollback=$5 profile=$6 current=$7
state() { printf '%s\n' "$1" > "$dir/status.tmp" && mv -f "$dir/status.tmp" "$dir/status"; }
info() { printf '%s=%s\n' "$1" "$2" >> "$dir/info"; }
gen() { l=$(readlink "$profile" 2>/dev/null) || return 0; l=\${l%-link}; printf '%s' "\${l##*-}"; }
prev_gen=$(gen)
prev_path=$(readlink -f "$profile" 2>/dev/null) || prev_path=
[ -n "$prev_gen" ] && [ -e "$prev_path" ] || prev_path=
prev_active=$(readlink -f "$current" 2>/dev/null) || prev_active=
[ -n "$prev_active" ] && [ -e "$prev_active" ] || prev_active=$prev_path
info prev_gen "$prev_gen"; info prev_path "$prev_path"; info prev_active "$prev_active"
case $mode in switch|boot) sets=1 ;; *) sets=0 ;; esac
if [ "$sets" = 1 ]; then
  if ! nix-env -p "$profile" --set "$new" >> "$dir/log" 2>&1; then state failed-profile; exit 1; fi
fi
new_gen=$(gen); info new_gen "$new_gen"
changed=0; [ "$sets" = 1 ] && [ "$new_gen" != "$prev_gen" ] && changed=1
roll_back() {
  state rolling-back
  ok=1
  if [ "$changed" = 1 ]; then
    if [ -n "$prev_gen" ]; then
      nix-env -p "$profile" --rollback >> "$dir/log" 2>&1 || ok=0
      nix-env -p "$profile" --delete-generations "$new_gen" >> "$dir/log" 2>&1 || ok=0
    else
      rm -f "$profile" "$profile-$new_gen-link" || ok=0
    fi
  fi
  if [ "$mode" = test ]; then back=$prev_active; else back=$prev_path; fi
  if [ -n "$back" ] && [ -x "$back/bin/switch-to-configuration" ]; then
    "$back/bin/switch-to-configuration" "$mode" >> "$dir/rollback.log" 2>&1 || ok=0
  fi
  info active_gen "$(gen)"
  if [ "$ok" = 1 ]; then state "rolled-back-$1"; else state "rollback-failed-$1"; fi
}
[ "$rollback" = 1 ] && : > "$dir/canary"
state activating
"$new/bin/switch-to-configuration" "$mode" > "$dir/activate.log" 2>&1
code=$?
info activate_code "$code"
if [ "$code" != 0 ]; then
  if [ "$rollback" = 1 ]; then roll_back activation; else state failed-activation; fi
  exit 1
fi
info active_gen "$new_gen"
case $mode in switch|test) ;; *) state done; exit 0 ;; esac
if [ "$rollback" != 1 ]; then state done; exit 0; fi
state activated
end=$(( $(date +%s) + timeout ))
while [ -e "$dir/canary" ]; do
  if [ -e "$dir/abort" ]; then roll_back health-check; exit 1; fi
  if [ "$(date +%s)" -ge "$end" ]; then roll_back timeout; exit 1; fi
  sleep 0.05 2>/dev/null || sleep 1
done
state confirmed
`.replaceAll("\\${", "${");

/**
 * The launcher, run as root over the activation SSH session. Arguments: supervisor-script
 * state-dir new-system mode timeout rollback profile current. It creates the state dir
 * (0700; fails if the name exists, so nobody can prepare it),
 * starts the supervisor outside the SSH session (a transient systemd unit when systemd
 * runs, else `setsid nohup`), then waits for the activation and prints the state.
 */
export const LAUNCHER_SCRIPT = String.raw`set -eu
script=$1 dir=$2; shift 2
case $dir in /tmp/devops-deploy.*) ;; *) echo "not a deploy state dir: $dir" >&2; exit 2 ;; esac
umask 077
mkdir -m 700 "$dir"
printf '%s\n' "$script" > "$dir/supervise.sh"
printf 'starting\n' > "$dir/status"
: > "$dir/info"
sh=$(command -v sh)
if command -v systemd-run >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
  systemd-run --quiet --collect --unit "devops-deploy-\${dir##*.}" "$sh" "$dir/supervise.sh" "$dir" "$@"
  echo "supervisor=systemd-run"
else
  setsid nohup "$sh" "$dir/supervise.sh" "$dir" "$@" < /dev/null >> "$dir/log" 2>&1 &
  echo "supervisor=setsid"
fi
echo "dir=$dir"
while :; do
  s=$(cat "$dir/status")
  case $s in starting|activating|rolling-back) sleep 0.05 2>/dev/null || sleep 1 ;; *) break ;; esac
done
echo "status=$s"
cat "$dir/info"
`.replaceAll("\\${", "${");

/** Actions of the control script. */
export type ControlAction = "confirm" | "abort" | "status";

/**
 * The control script, run as root over a new SSH connection. Arguments: state-dir action
 * wait-seconds. `confirm` deletes the canary, `abort` asks for a rollback; then it waits up
 * to wait-seconds for a final state (`status`: for any state but a passing one) and prints it.
 */
export const CONTROL_SCRIPT = String.raw`set -eu
dir=$1 action=$2 wait=$3
case $dir in /tmp/devops-deploy.*) ;; *) echo "not a deploy state dir: $dir" >&2; exit 2 ;; esac
[ -d "$dir" ] || { echo "no deploy state dir: $dir" >&2; exit 2; }
case $action in confirm) rm -f "$dir/canary" ;; abort) : > "$dir/abort" ;; esac
end=$(( $(date +%s) + wait ))
while :; do
  s=$(cat "$dir/status")
  case $s in starting|activating|rolling-back) ;; activated) [ "$action" = status ] && break ;; *) break ;; esac
  [ "$(date +%s)" -ge "$end" ] && break
  sleep 0.05 2>/dev/null || sleep 1
done
echo "status=$s"
cat "$dir/info"
`;

/** Separates the probe's key=value lines from the closure diff. */
export const DIFF_MARKER = "--- closure diff";

/**
 * The probe, after the copy: the current generation, the profile's and the running system,
 * then (argument: the new system) `nix store diff-closures` from the current system to the
 * new one, run on the target where both closures are; `nix-command` is enabled for this
 * call only.
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
  exec nix --extra-experimental-features nix-command store diff-closures "$before" "$1"
fi
true
`.replaceAll("\\${", "${");

/** The state the launcher and the control script print. */
export interface RemoteState {
  status: string;
  dir?: string;
  supervisor?: string;
  prevGen?: number;
  newGen?: number;
  activeGen?: number;
  activateCode?: number;
}

/** Parses `key=value` lines into a {@linkcode RemoteState}. */
export function parseRemoteState(text: string): RemoteState {
  const values = parseKeyValues(text);
  const num = (v: string | undefined) => (v && /^\d+$/.test(v) ? Number(v) : undefined);
  const state: RemoteState = { status: values.status ?? "unknown" };
  if (values.dir) state.dir = values.dir;
  if (values.supervisor) state.supervisor = values.supervisor;
  const fields = [
    ["prevGen", num(values.prev_gen)],
    ["newGen", num(values.new_gen)],
    ["activeGen", num(values.active_gen)],
    ["activateCode", num(values.activate_code)],
  ] as const;
  for (const [key, value] of fields) if (value !== undefined) state[key] = value;
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
  return status === "confirmed" || status === "done" || /^(rolled-back|rollback-failed|failed)-/
    .test(status);
}

/** Runs `script` with `sh -c` and arguments, as one remote command string. */
export function shCommand(script: string, args: readonly string[]): string {
  return ["sh", "-c", script, "devops-deploy", ...args].map(shellQuote).join(" ");
}
