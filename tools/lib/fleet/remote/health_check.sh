# Runs a health check (arguments: seconds, the check's command) with the login shell's `-c`, as
# sshd would run it, bounded on the target. The checks share the host's connection, where the deployer killing its ssh client
# would not end the remote command (the master holds the client's output open until it ends);
# so the bound is kept where the check runs: `timeout` (TERM, then KILL 3 s later), else the
# check in the background (a session of its own with `setsid`), its process group killed at the
# bound. Ran over the bound: exit code 124.
#
# The check writes to files in a private temp dir, printed when it ends: a process it leaves
# behind (a daemon it started, a child the bound did not reach) holds a file, not the session,
# so the session ends with the check. The files are bounded (`ulimit -f`, about 8 MiB: a check
# printing more is ended by SIGXFSZ, exit code 153, and fails) and only the last
# HEALTH_CHECK_OUTPUT_TAIL bytes of each reach the deployer. With no temp dir
# (no `mktemp`, nothing writable) the output goes to the session as it comes, as before.
t=$1 check=$2 shell=${SHELL:-sh}
# No temp dir (no mktemp, nothing writable): the output goes to the session as it comes.
d=$(mktemp -d 2>/dev/null) || d=$(TMPDIR=/tmp mktemp -d 2>/dev/null) || d=
if [ -n "$d" ]; then exec 3> "$d/out" 4> "$d/err"; else exec 3>&1 4>&2; fi
if command -v timeout >/dev/null 2>&1; then
  (ulimit -f @HEALTH_CHECK_OUTPUT_BLOCKS@ 2>/dev/null; exec timeout -k 3 "$t" "$shell" -c "$check") \
    < /dev/null >&3 2>&4 3>&- 4>&-
  code=$?
else
  group=; command -v setsid >/dev/null 2>&1 && group=setsid
  (ulimit -f @HEALTH_CHECK_OUTPUT_BLOCKS@ 2>/dev/null; exec $group "$shell" -c "$check") \
    < /dev/null >&3 2>&4 3>&- 4>&- &
  pid=$!
  # +1: whole seconds; the check gets at least its t seconds.
  # @include poll.sh
end=$(( $(date +%s) + t + 1 ))
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
  tail -c @HEALTH_CHECK_OUTPUT_TAIL@ "$d/out"
  tail -c @HEALTH_CHECK_OUTPUT_TAIL@ "$d/err" >&2
  rm -rf "$d"
fi
[ "$code" = 153 ] && echo "health check: printed more than its output bound (about 8 MiB); ended" >&2
exit "$code"
