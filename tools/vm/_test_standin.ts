// A stand-in for NixOS's VM runner, for the vm task's tests: a fixture flake whose
// `nixosConfigurations.<host>.config.system.build.vm` builds (with the real nix, no nixpkgs) to
// a folder holding `bin/run-<host>-vm` with the runner's interface (qemu-vm.nix: NIX_DISK_IMAGE
// created when missing, TMPDIR/USE_TMPDIR, SHARED_DIR, QEMU_NET_OPTS' hostfwd, QEMU_OPTS), which
// starts a real sshd in place of QEMU: in a PID namespace of its own, so stopping it ends
// everything in it, as powering a VM off does. Its sshd listens where QEMU_NET_OPTS forwards,
// with the host key the guest reads from DEVOPS_VM_KEYS (`/mnt/vm-keys` in the guest, see
// modules/nixos/profiles/common.nix), and `systemctl` on its PATH is a stand-in that says
// "running". Test-only knobs come as environment variables the task passes on to the runner.
import { installToolkit } from "../testing/task.ts";
import { createTempRepo, type TempRepo } from "../testing/temp_repo.ts";

/** How the stand-in VM behaves. */
export type StandInMode =
  /** Boots: sshd with the host key from DEVOPS_VM_KEYS. */
  | "ok"
  /** Never answers: the forwarded port is never opened. */
  | "silent"
  /** Boots with a host key of its own, not the one it was given. */
  | "other-key"
  /** Ends at once, as QEMU does when the forwarded port is taken. */
  | "crash";

/** One host of the stand-in fleet. */
export interface StandInHost {
  name: string;
  mode?: StandInMode;
  healthChecks?: string[];
  healthCheckTimeout?: number;
  /** The host's private key in the repository (dev-vm's example key) and its committed .pub. */
  repositoryKey?: { privateKey: string; publicKey: string };
}

const FLAKE = `# Fixture fleet for the vm task: host facts and a stand-in VM runner per host.
{
  outputs = { self }:
    let
      fixture = builtins.fromJSON (builtins.readFile ./fixture.json);
      vm = name: host: derivation {
        name = "nixos-vm";
        system = host.facts.system;
        builder = "/bin/sh";
        args = [ ./vm-builder.sh ];
        hostName = name;
        inherit (host) mode;
      };
    in
    {
      hosts = builtins.mapAttrs (name: host: host.facts) fixture.hosts;
      nixosConfigurations = builtins.mapAttrs (name: host: {
        config.system.build.vm = vm name host;
      }) fixture.hosts;
    };
}
`;

const BUILDER = `# Builds the stand-in: $out/bin/run-$hostName-vm and $out/sw/bin/systemctl.
set -eu
PATH=/usr/bin:/bin
mkdir -p "$out/bin" "$out/sw/bin"
cat > "$out/sw/bin/systemctl" <<'EOF'
#!/bin/sh
case "$1" in
  is-system-running) echo running ;;
  *) echo "stand-in systemctl: $1 is not supported" >&2; exit 1 ;;
esac
EOF
cat > "$out/bin/run-$hostName-vm" <<EOF
#!/bin/sh
# Stand-in for run-$hostName-vm (nixos/modules/virtualisation/qemu-vm.nix's startVM).
PATH=/usr/bin:/bin:/usr/sbin:/sbin
set -e
mode=$mode
sw=$out/sw/bin
EOF
cat >> "$out/bin/run-$hostName-vm" <<'EOF'
NIX_DISK_IMAGE=$(readlink -f "\${NIX_DISK_IMAGE:-./HOST.qcow2}") || test -z "$NIX_DISK_IMAGE"
if test -n "$NIX_DISK_IMAGE" && ! test -e "$NIX_DISK_IMAGE"; then
  echo "Disk image do not exist, creating the virtualisation disk image..."
  truncate -s 1M "$NIX_DISK_IMAGE"
  echo "Virtualisation disk image created."
fi
if [ -z "$TMPDIR" ] || [ -z "$USE_TMPDIR" ]; then
  TMPDIR=$(mktemp -d nix-vm.XXXXXXXXXX --tmpdir)
fi
mkdir -p "$TMPDIR/xchg"
shared=\${SHARED_DIR:-$TMPDIR/xchg}
keys=\${DEVOPS_VM_KEYS:-$TMPDIR/xchg}
if [ -n "\${VM_STANDIN_STATE:-}" ]; then
  {
    echo "pid=$$"
    echo "disk=$NIX_DISK_IMAGE"
    echo "tmpdir=$TMPDIR"
    echo "shared=$shared"
    echo "keys=$keys"
    echo "net=\${QEMU_NET_OPTS:-}"
    echo "opts=\${QEMU_OPTS:-}"
  } > "$VM_STANDIN_STATE/runner.tmp"
  mv "$VM_STANDIN_STATE/runner.tmp" "$VM_STANDIN_STATE/runner"
fi
fwd=$(printf '%s\\n' "\${QEMU_NET_OPTS:-}" | sed -n 's/.*hostfwd=tcp:\\([0-9.]*\\):\\([0-9]*\\)-:22.*/\\1 \\2/p')
[ -n "$fwd" ] || { echo "no hostfwd to port 22 in QEMU_NET_OPTS" >&2; exit 1; }
addr=\${fwd% *} port=\${fwd#* }
[ "$mode" = silent ] && exec sleep 86400
if [ "$mode" = crash ]; then
  echo "qemu-system-x86_64: -netdev user,id=user.0,$QEMU_NET_OPTS: could not set up host forwarding rule" >&2
  exit 1
fi
key=$keys/ssh_host_ed25519_key
if [ "$mode" = other-key ]; then
  key=$TMPDIR/other_host_key
  ssh-keygen -q -t ed25519 -N "" -f "$key"
fi
cat > "$TMPDIR/sshd_config" <<CONFIG
ListenAddress $addr:$port
HostKey $key
PidFile none
AuthorizedKeysFile $VM_STANDIN_AUTHORIZED_KEYS
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
SetEnv PATH=$sw:/usr/bin:/bin
CONFIG
echo "booting"
# The guest: everything in it ends with its pid 1, as a VM's processes end with QEMU.
exec unshare --pid --fork --kill-child /usr/sbin/sshd -D -e -f "$TMPDIR/sshd_config"
EOF
sed -i "s/HOST.qcow2/$hostName.qcow2/" "$out/bin/run-$hostName-vm"
chmod 555 "$out/bin/run-$hostName-vm" "$out/sw/bin/systemctl"
`;

/** The stand-in fleet: a repository holding the toolkit and the fixture flake. */
export async function createStandInFleet(hosts: readonly StandInHost[]): Promise<TempRepo> {
  const system = `${Deno.build.arch}-linux`;
  const fixture = {
    hosts: Object.fromEntries(hosts.map((h) => [h.name, {
      mode: h.mode ?? "ok",
      facts: {
        deployable: false,
        address: "127.0.0.1",
        port: 22,
        user: "root",
        tags: [],
        buildOn: "local",
        confirmTimeout: 30,
        healthChecks: h.healthChecks ?? [],
        ...(h.healthCheckTimeout ? { healthCheckTimeout: h.healthCheckTimeout } : {}),
        system,
      },
    }])),
  };
  const tree: Record<string, string | { content: string; mode: number }> = {
    "flake.nix": FLAKE,
    "vm-builder.sh": BUILDER,
    "fixture.json": `${JSON.stringify(fixture, null, 2)}\n`,
  };
  for (const host of hosts) {
    tree[`configurations/${host.name}/default.nix`] = `# Fixture host ${host.name}.\n{ }\n`;
    if (host.repositoryKey) {
      tree[`configurations/${host.name}/example_ssh_host_ed25519_key`] = {
        content: host.repositoryKey.privateKey,
        mode: 0o600,
      };
      tree[`configurations/${host.name}/ssh_host_ed25519_key.pub`] = host.repositoryKey.publicKey;
    }
  }
  const repo = await createTempRepo(tree, { commit: false });
  await installToolkit(repo.dir);
  await repo.git("add", "-A");
  await repo.git("commit", "-q", "-m", "stand-in fleet");
  return repo;
}
