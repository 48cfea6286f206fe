# The control script, run as root over a new SSH connection. Arguments: run action
# wait-seconds. `confirm` deletes the canary, `abort` asks for a rollback; then it waits up
# to wait-seconds for a final state (`status`: for any state but a passing one) and prints it
# (from the last-deploy record once the state dir is gone).
set -eu
run=$1 action=$2 wait=$3
base=@STATE_BASE@
case $run in *[!0-9a-f]*|'') echo "not a run id: $run" >&2; exit 2 ;; esac
# @include show_state.sh
# @include alive.sh

dir=$base/$run
if [ -d "$dir" ]; then
  case $action in confirm) rm -f "$dir/canary" ;; abort) : > "$dir/abort" ;; esac
fi
# @include poll.sh
end=$(( $(date +%s) + wait ))
while :; do
  read_status "$run"
  if [ $((polls % 5)) -eq 0 ] && lost "$run"; then echo "supervisor_lost=1"; break; fi
  case $s in starting|activating|rolling-back) ;; activated) [ "$action" = status ] && break ;; *) break ;; esac
  past "$end" && break
  pause
done
show "$run"
