# How the scripts wait: a builtin test each poll, `sleep` 0.05 s for the first twenty polls
# (about a second: a quick answer stays quick) and 0.2 s after, and the clock (a `date` fork)
# only every fifth poll. With dozens of hosts waiting at once on one machine, forking `sleep`,
# `date` and `cat` every 0.05 s took the CPU the SSH handshakes needed. A bound is passed at
# most five polls (<= 1 s) late. Set polls=0 before each wait.
polls=0
pause() {
  polls=$((polls + 1))
  if [ "$polls" -le 20 ]; then sleep 0.05 2>/dev/null || sleep 1
  else sleep 0.2 2>/dev/null || sleep 1; fi
}
past() { [ $((polls % 5)) -eq 0 ] && [ "$(date +%s)" -ge "$1" ]; }
