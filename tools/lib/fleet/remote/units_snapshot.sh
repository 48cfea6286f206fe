# The snapshot the supervisor takes before the activation (argument: the systemctl to use):
# every loaded unit with its invocation id. A unit started or restarted afterwards has a new
# invocation id; one that was stopped or left alone keeps its own.
set -eu
# Fails (no snapshot: the check falls back) when this systemctl cannot show units.
units=$("$1" show --property=Id,InvocationID '*' 2>/dev/null)
printf '%s\n' "$units" | awk '@INVOCATIONS_AWK@'
