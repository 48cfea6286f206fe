# The probe, after the copy: the current generation, the profile's and the running system,
# then (argument: the new system) `nix store diff-closures` from the current system to the
# new one, run on the target where both closures are; `nix-command` is enabled for this
# call only. The diff is information: when it fails (nix < 2.4 has no `store
# diff-closures`), the probe says so after DIFF_FAILED_MARKER and still succeeds.
l=$(readlink @SYSTEM_PROFILE@ 2>/dev/null) || l=
l=${l%-link}; [ -n "$l" ] && echo "gen=${l##*-}"
p=$(readlink -f @SYSTEM_PROFILE@ 2>/dev/null) && [ -e "$p" ] || p=
c=$(readlink -f @CURRENT_SYSTEM@ 2>/dev/null) && [ -e "$c" ] || c=
[ -n "$p" ] && echo "profile=$p"
[ -n "$c" ] && echo "current=$c"
before=${p:-$c}
if [ -n "${1:-}" ] && [ -n "$before" ]; then
  echo "@DIFF_MARKER@"
  e=$(mktemp 2>/dev/null) || e=/dev/null
  if ! nix --extra-experimental-features nix-command store diff-closures "$before" "$1" 2> "$e"; then
    echo "@DIFF_FAILED_MARKER@"
    [ "$e" = /dev/null ] || grep -v '^[[:space:]]*$' "$e" | tail -n 1
  fi
  [ "$e" = /dev/null ] || rm -f "$e"
fi
true
