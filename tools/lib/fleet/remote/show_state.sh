# show RUN prints run RUN's state: its state dir while it lives, else the last-deploy record.
show() {
  # The supervisor writes the record before it removes the dir: one of the two is whole.
  if s=$(cat "$base/$1/status" 2>/dev/null) && i=$(cat "$base/$1/info" 2>/dev/null); then
    echo "status=$s"; printf '%s
' "$i"
  elif grep -qx "run=$1" @LAST_DEPLOY_RECORD@ 2>/dev/null; then
    cat @LAST_DEPLOY_RECORD@
  else
    # Neither: the host lost the run's state (a reboot empties /run) or never had it. What
    # it runs now tells the deployer what to report.
    echo "status=gone"
    c=$(readlink -f @CURRENT_SYSTEM@ 2>/dev/null) && echo "current=$c"
  fi
}
# Sets s to the status of run $1; while the state dir lives, with no fork (read is a builtin).
read_status() {
  s=
  read -r s 2>/dev/null < "$base/$1/status" && [ -n "$s" ] && return 0
  if grep -qx "run=$1" @LAST_DEPLOY_RECORD@ 2>/dev/null; then
    s=$(sed -n 's/^status=//p' @LAST_DEPLOY_RECORD@)
  fi
  [ -n "$s" ] || s=gone
}
info_of() { sed -n "s/^$2=//p" "$base/$1/info" 2>/dev/null | tail -n 1; }
# Whether run $1's supervisor died mid-way: its pid is gone while its status is not final (it
# writes a final status before it exits). Then nothing rolls the host back by itself.
lost() {
  p=$(info_of "$1" pid)
  [ -n "$p" ] && ! supervisor_alive "$p" "$1" || return 1
  read_status "$1"
  case $s in starting|activating|rolling-back|activated) return 0 ;; esac
  return 1
}
