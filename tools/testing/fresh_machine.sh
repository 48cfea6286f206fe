#!/usr/bin/env bash
# Proves the README's set-up on a bare Debian 12: makes a minimal root with debootstrap (or takes
# one already made), clones this repository into it, enters it (own mount and PID namespace,
# pivot_root) and
# runs exactly the README's commands there: the demo's set-up and `deno task demo`, then the test
# set-up and one short test file. Needs root and the Debian mirror; nothing else on the machine
# changes. Run: bash tools/testing/fresh_machine.sh [--root DIR] [--keep]
#   --root DIR   a folder for the bare root (default: a new temp folder); a root already made there
#                by an earlier run is reused from its pristine copy, so the download happens once
#   --keep       leave the root after the run (to look inside)
set -euo pipefail

say() { printf 'fresh-machine: %s\n' "$*" >&2; }

ROOT=""
KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --root) ROOT=${2:?--root needs a folder}; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) say "unknown argument $1 (see --help)"; exit 2 ;;
  esac
done
if [ "$(id -u)" -ne 0 ]; then say "run as root (debootstrap and chroot)"; exit 1; fi
command -v debootstrap >/dev/null || {
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
}

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BASE=${ROOT:-$(mktemp -d /var/tmp/fresh-machine.XXXXXX)}
PRISTINE="$BASE/pristine"
WORK="$BASE/root"
mkdir -p "$BASE"
if [ ! -f "$PRISTINE/.complete" ]; then
  say "debootstrap bookworm into $PRISTINE (minbase)"
  rm -rf "$PRISTINE"
  debootstrap --variant=minbase --include=ca-certificates,git bookworm "$PRISTINE" \
    http://deb.debian.org/debian >"$BASE/debootstrap.log" 2>&1 ||
    { say "debootstrap failed: $(tail -1 "$BASE/debootstrap.log")"; exit 1; }
  touch "$PRISTINE/.complete"
fi
cleanup() {
  if [ "$KEEP" -eq 0 ]; then rm -rf "$WORK"; [ -n "$ROOT" ] || rm -rf "$BASE"; fi
}
trap cleanup EXIT
rm -rf "$WORK"
cp -a "$PRISTINE" "$WORK"
rm -f "$WORK/.complete"
cp /etc/resolv.conf "$WORK/etc/resolv.conf"
# The network's own trust: a machine on a network that inspects TLS trusts that network's CA. The
# root gets this machine's extra CAs and, like this machine, NODE_EXTRA_CA_CERTS (npm reads no
# system store); nothing of the project is copied in but its clone.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$WORK/usr/local/share/ca-certificates/"
  chroot "$WORK" update-ca-certificates >/dev/null 2>&1
fi
git clone -q "$REPO" "$WORK/root/devops-at-home"

# What the README says, word for word, then a short test file (the task table's own test).
cat >"$WORK/root/readme-steps.sh" <<'STEPS'
set -uo pipefail
cd /root/devops-at-home
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
step() {
  echo "== $1"
  bash -c "$1" || { echo "FAILED (exit $?): $1"; exit 1; }
}
step "bash tools/testing/install_test_programs.sh --demo && deno task demo"
step "bash tools/testing/install_test_programs.sh"
# Offline: the npm packages were cached at set-up.
step "deno test --allow-all --cached-only tools/bench/bench_args_test.ts"
STEPS

say "entering the root and running the README's commands"
# pivot_root, not chroot: the root must be its mount namespace's own root, as / is on a machine
# (the test hosts' `nsenter --mount` resets a process's root to its namespace's root).
# shellcheck disable=SC2016 # the inner script expands its own arguments
unshare --mount --pid --fork sh -c '
  set -e
  root=$1
  mount --make-rprivate /
  mount --bind "$root" "$root"
  mount -t proc proc "$root/proc"
  mount --rbind /dev "$root/dev"
  mount --rbind /sys "$root/sys"
  mount -t tmpfs tmpfs "$root/run"
  mount -t tmpfs tmpfs "$root/tmp"
  # The root shares this machine'"'"'s network: its test hosts take 127.0.0.N addresses from the
  # same leases as this machine'"'"'s own test runs, so the two never collide.
  mkdir -p /tmp/devops-test-hosts "$root/tmp/devops-test-hosts"
  mount --bind /tmp/devops-test-hosts "$root/tmp/devops-test-hosts"
  cd "$root"
  mkdir -p .old-root
  pivot_root . .old-root
  exec /usr/bin/env -i HOME=/root TERM=dumb \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    /bin/bash -c "umount -l /.old-root && rmdir /.old-root && exec bash /root/readme-steps.sh"
' sh "$WORK"
say "the README's set-up, the demo and the test ran on a bare Debian 12"
