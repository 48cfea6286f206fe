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
# sops 3.11's go.mod asks for Go 1.24; Debian 12's golang-go is 1.19. An older go fetches this
# toolchain as a module through the Go module proxy (the only Go source these machines reach).
GO_MIN_MINOR=24
GO_TOOLCHAIN=go1.26.8
# NixOS 26.05 ships Prometheus 3.x (3.0 changed range selection and regex matching); Debian 12's
# promtool is 2.42. The rule tests run both: this one is built from Prometheus' own Go module.
# v0.311.3 is Prometheus 3.11.3 (2026-04-27), the newest release before the 26.05 branch-off on
# 2026-05-24 (3.12.0 followed on 2026-05-28, by Prometheus' CHANGELOG.md).
PROMETHEUS_MODULE_VERSION=v0.311.3
PROMTOOL3=/usr/local/lib/promtool3/promtool
APT_PACKAGES=(nix-bin age openssh-server openssh-client pre-commit git iproute2 nftables util-linux e2fsprogs diffutils time systemd-container sudo openssl procps whois shellcheck gettext-base prometheus prometheus-alertmanager prometheus-node-exporter systemd-journal-remote fail2ban python3-systemd jq prometheus-blackbox-exporter)
DEMO_APT_PACKAGES=(nix-bin openssh-server openssh-client iproute2 nftables util-linux)

DEMO=0
case "${1:-}" in
  "") ;;
  --demo) DEMO=1 ;;
  *) printf 'usage: %s [--demo]\n' "$0" >&2; exit 2 ;;
esac

say() { printf 'install: %s\n' "$*" >&2; }

REPO_ROOT=$(cd "$(dirname "$0")/../.." && pwd)

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

apt_install() {
  say "apt-get install $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# Deno from the npm registry: Deno's own Linux build is the package @deno/linux-<arch>-glibc
# (the "deno" package's postinstall copies it from there); `npm pack` fetches it without a global
# install (Debian 12's npm 9 sometimes ends a global install with "Exit handler never called!"
# and leaves it half-made). npm itself comes from Debian when missing.
install_deno() {
  if command -v deno >/dev/null && deno --version | grep -q "^deno ${DENO_VERSION} "; then return; fi
  command -v npm >/dev/null || apt_install nodejs npm
  local arch package work try out
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) say "no Deno build for $(uname -m) on the npm registry"; exit 1 ;;
  esac
  package="@deno/linux-${arch}-glibc@${DENO_VERSION}"
  say "npm pack ${package} -> /usr/local/bin/deno"
  work=$(mktemp -d)
  for try in 1 2 3; do
    if out=$(cd "$work" && npm pack --silent "$package" 2>&1) && [ -f "$work/$out" ]; then
      tar -xzf "$work/$out" -C "$work" package/deno
      install -m 0755 "$work/package/deno" /usr/local/bin/deno
      rm -rf "$work"
      hash -r
      return
    fi
    say "npm pack failed (try ${try} of 3): $(printf '%s\n' "$out" | tail -1)"
  done
  rm -rf "$work"
  exit 1
}

# The Deno tasks import their npm packages on first use: fetch them now, so that every later run
# (the demo, the tools, the tests) works with no network.
cache_deno_packages() {
  say "deno install (the npm packages deno.lock names)"
  (cd "$REPO_ROOT" && deno install --frozen >/dev/null)
}

# Prints "go" with a minor version of at least GO_MIN_MINOR, installing one when there is none.
usable_go() {
  local go
  for go in go /usr/local/go/bin/go /usr/local/lib/devops-go/bin/go; do
    if command -v "$go" >/dev/null && go_is_recent "$go"; then
      command -v "$go"
      return
    fi
  done
  install_go_toolchain
  command -v /usr/local/lib/devops-go/bin/go
}

# Exit status: whether this go's minor version is at least GO_MIN_MINOR.
go_is_recent() {
  local minor
  minor=$("$1" env GOVERSION 2>/dev/null | sed -nE 's/^go1\.([0-9]+).*/\1/p')
  [ -n "$minor" ] && [ "$minor" -ge "$GO_MIN_MINOR" ]
}

# Debian's go, then Go's own toolchain module through the module proxy, unpacked where the
# script's other Go looks. (GOTOOLCHAIN would do this, but only from Go 1.21 on.)
install_go_toolchain() {
  command -v go >/dev/null || apt_install golang-go
  local module work dir
  module="golang.org/toolchain@v0.0.1-${GO_TOOLCHAIN}.linux-$(go env GOARCH)"
  say "go mod download ${module}"
  work=$(mktemp -d)
  dir=$(cd "$work" && go mod init devops-go-bootstrap >/dev/null 2>&1 &&
    GOFLAGS=-mod=mod go mod download -json "$module" | sed -nE 's/^\s*"Dir": "(.*)",$/\1/p')
  rm -rf "$work"
  if [ -z "$dir" ] || [ ! -f "$dir/bin/go" ]; then
    say "cannot fetch ${module} from the Go module proxy"
    exit 1
  fi
  rm -rf /usr/local/lib/devops-go
  cp -r "$dir" /usr/local/lib/devops-go
  # Module zips keep no file modes: the go command marks a toolchain's programs itself.
  chmod -R u+w /usr/local/lib/devops-go
  find /usr/local/lib/devops-go/bin /usr/local/lib/devops-go/pkg/tool -type f -exec chmod 0755 {} +
}

install_sops() {
  if command -v sops >/dev/null && sops --version 2>/dev/null | grep -q "sops ${SOPS_VERSION#v}"; then return; fi
  local go
  go=$(usable_go)
  say "go install sops ${SOPS_VERSION} ($("$go" env GOVERSION))"
  GOBIN=/usr/local/bin GOFLAGS=-mod=mod "$go" install "github.com/getsops/sops/v3/cmd/sops@${SOPS_VERSION}"
}

# Built inside the module's own tree (go install refuses a module with replace directives).
install_promtool3() {
  if [ -x "$PROMTOOL3" ] && "$PROMTOOL3" --version 2>&1 | grep -q "version 3\\.${PROMETHEUS_MODULE_VERSION#v0.3}"; then return; fi
  local go dir work
  go=$(usable_go)
  say "build promtool from github.com/prometheus/prometheus@${PROMETHEUS_MODULE_VERSION} ($("$go" env GOVERSION))"
  dir=$(cd /tmp && GOFLAGS=-mod=mod "$go" mod download -json "github.com/prometheus/prometheus@${PROMETHEUS_MODULE_VERSION}" |
    sed -nE 's/^\s*"Dir": "(.*)",$/\1/p')
  if [ -z "$dir" ]; then
    say "cannot fetch github.com/prometheus/prometheus@${PROMETHEUS_MODULE_VERSION} from the Go module proxy"
    exit 1
  fi
  work=$(mktemp -d)
  cp -r "$dir/." "$work"
  chmod -R u+w "$work"
  mkdir -p "$(dirname "$PROMTOOL3")"
  (cd "$work" && GOWORK=off GOFLAGS=-mod=mod "$go" build -o "$PROMTOOL3" \
    -ldflags "-X github.com/prometheus/common/version.Version=3.${PROMETHEUS_MODULE_VERSION#v0.3}" ./cmd/promtool)
  rm -rf "$work"
}

# Debian starts its packages' daemons; the tests start their own Prometheus, Alertmanager,
# node exporter, journal receiver and fail2ban, and want no others running.
stop_packaged_daemons() {
  [ -d /run/systemd/system ] || return 0
  local unit
  for unit in prometheus prometheus-alertmanager prometheus-node-exporter prometheus-blackbox-exporter systemd-journal-remote.socket fail2ban; do
    systemctl disable --now "$unit" >/dev/null 2>&1 || true
  done
}

prepare_sshd() {
  # sshd refuses to start without its privilege-separation folder.
  mkdir -p /run/sshd
  chmod 0755 /run/sshd
}

need_root
install_apt_packages
install_deno
cache_deno_packages
prepare_sshd
if [ "$DEMO" -eq 1 ]; then
  say "ready for deno task demo: deno $(deno --version | head -1 | cut -d' ' -f2), $(nix --version)"
  exit 0
fi
configure_nix
install_sops
install_promtool3
stop_packaged_daemons
# ssh-to-age cannot be installed on these machines (see README, "What the tests cannot run").
say "ready: deno $(deno --version | head -1 | cut -d' ' -f2), $(nix --version), sops $(sops --version 2>/dev/null | head -1 | cut -d' ' -f2), age $(age --version)"
