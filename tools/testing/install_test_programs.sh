#!/usr/bin/env bash
# Installs every program the tests drive, on a fresh Debian/Ubuntu machine, as root.
# Idempotent: on a ready machine it checks versions and returns in seconds.
#
#   install_test_programs.sh          a test machine: every program (systemd-container and sudo
#                                     for the systemd test hosts), and /etc/nix/nix.conf set
#                                     for the tests (flakes, no sandbox, no substituters, no
#                                     build users); sops, age, pre-commit, git
#   install_test_programs.sh --demo   only what `deno task demo` needs (deno, nix, OpenSSH,
#                                     util-linux, iproute2, nftables); no global configuration
#                                     changes: the demo gives nix its settings through NIX_CONFIG
set -euo pipefail

DENO_VERSION=2.9.6
SOPS_VERSION=v3.11.0
APT_PACKAGES=(nix-bin age openssh-server openssh-client pre-commit git iproute2 nftables util-linux e2fsprogs diffutils time systemd-container sudo openssl procps whois)
DEMO_APT_PACKAGES=(nix-bin openssh-server openssh-client iproute2 nftables util-linux)

DEMO=0
case "${1:-}" in
  "") ;;
  --demo) DEMO=1 ;;
  *) printf 'usage: %s [--demo]\n' "$0" >&2; exit 2 ;;
esac

say() { printf 'install: %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    say "run as root: the tests start sshd test hosts in their own namespaces"
    exit 1
  fi
}

install_apt_packages() {
  local missing=() wanted=("${APT_PACKAGES[@]}")
  if [ "$DEMO" -eq 1 ]; then wanted=("${DEMO_APT_PACKAGES[@]}"); fi
  for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ ${#missing[@]} -eq 0 ]; then return; fi
  say "apt-get install ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Test machines only: Debian's nix-bin in a container: flakes on, nothing fetched, no sandbox,
# no build users. The tests run nix without NIX_CONFIG, so they need these settings globally.
configure_nix() {
  local conf=/etc/nix/nix.conf
  mkdir -p /etc/nix
  touch "$conf"
  set_nix_option "$conf" sandbox false
  set_nix_option "$conf" experimental-features "nix-command flakes"
  set_nix_option "$conf" substituters ""
  set_nix_option "$conf" build-users-group ""
}

set_nix_option() {
  local conf=$1 key=$2 value=$3
  if grep -qE "^${key} = ${value}\$" "$conf"; then return; fi
  sed -i "/^${key} *=/d" "$conf"
  printf '%s = %s\n' "$key" "$value" >>"$conf"
}

install_deno() {
  if command -v deno >/dev/null && deno --version | grep -q "^deno ${DENO_VERSION} "; then return; fi
  say "npm install -g deno@${DENO_VERSION}"
  npm install -g --silent "deno@${DENO_VERSION}" >/dev/null
}

install_sops() {
  if command -v sops >/dev/null && sops --version 2>/dev/null | grep -q "sops ${SOPS_VERSION#v}"; then return; fi
  command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
  say "go install sops ${SOPS_VERSION}"
  GOBIN=/usr/local/bin GOFLAGS=-mod=mod go install "github.com/getsops/sops/v3/cmd/sops@${SOPS_VERSION}"
}

prepare_sshd() {
  # sshd refuses to start without its privilege-separation folder.
  mkdir -p /run/sshd
  chmod 0755 /run/sshd
}

need_root
install_apt_packages
install_deno
prepare_sshd
if [ "$DEMO" -eq 1 ]; then
  say "ready for deno task demo: deno $(deno --version | head -1 | cut -d' ' -f2), $(nix --version)"
  exit 0
fi
configure_nix
install_sops
# ssh-to-age cannot be installed on these machines (see README, "What the tests cannot run").
say "ready: deno $(deno --version | head -1 | cut -d' ' -f2), $(nix --version), sops $(sops --version 2>/dev/null | head -1 | cut -d' ' -f2), age $(age --version)"
