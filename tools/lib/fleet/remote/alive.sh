# Whether process $1 lives and is run $2's supervisor. A pid alone is not enough: pids are
# reused (pid_max can be 32768), and a dead supervisor whose pid now names another process
# would look alive for good. Where /proc shows command lines, the run's id must be in it.
supervisor_alive() {
  kill -0 "$1" 2>/dev/null || return 1
  [ -r "/proc/$1/cmdline" ] || return 0
  tr '\0' ' ' < "/proc/$1/cmdline" 2>/dev/null | grep -q -e "$2"
}
