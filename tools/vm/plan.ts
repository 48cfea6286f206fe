// The plan of `deno task vm <host>`: build the host's VM (`config.system.build.vm`), boot it
// headless with its SSH port forwarded to 127.0.0.1 only, wait (bounded) for SSH pinning the key
// the VM runs with, run the host's health checks through the fleet layer, power it off. Pure:
// facts and options in, one list of steps out; main.ts runs them and --dry-run prints them.
//
// The VM runner's interface (`result/bin/run-<host>-vm`, nixpkgs'
// nixos/modules/virtualisation/qemu-vm.nix; the version read is in tools/vm/PROVENANCE.md):
// NIX_DISK_IMAGE (the root disk, created when missing; default ./<host>.qcow2 in the current
// folder), TMPDIR with USE_TMPDIR (its scratch folder, else a new `mktemp -d`), SHARED_DIR
// (mounted at /tmp/shared in the guest; default $TMPDIR/xchg; not used here), QEMU_NET_OPTS (appended to
// `-netdev user,…`: `hostfwd=tcp:127.0.0.1:<port>-:22` forwards the SSH port), QEMU_OPTS
// (appended to QEMU's argv: `-nographic`, headless) and QEMU_KERNEL_PARAMS (appended to the
// kernel command line). The script ends in `exec qemu…`, so its pid is QEMU's. The fleet's
// configurations add DEVOPS_VM_KEYS (the VM's host key, see modules/nixos/profiles/common.nix)
// and, for dev-vm, DEV_VM_KEYS.
import {
  HEALTH_CHECK_SCRIPT,
  type HostFacts,
  sshArgv,
  type SshContext,
  sshExecArgv,
  type SshTarget,
} from "../lib/fleet/mod.ts";
import { shCommand } from "../lib/fleet/mod.ts";
import { formatCommand } from "../lib/quote.ts";

/** Where the forwarded SSH port listens: this machine only. */
export const VM_ADDRESS = "127.0.0.1";
/**
 * Where the guest sees the folder of DEVOPS_VM_KEYS (the fleet's own shared directory,
 * modules/nixos/profiles/common.nix): the VM's host key.
 */
export const GUEST_KEYS_DIR = "/mnt/vm-keys";
/**
 * The host whose repository holds a VM host key of its own (an example, public on purpose; see
 * configurations/dev-vm/README.md): the one the VM runs with, pinned by its committed `.pub`.
 */
export const DEV_VM = "dev-vm";
/** Where dev-vm's key is looked for, first found wins (init's new key, then the example). */
export const DEV_VM_KEY_FILES = [
  ".data/dev-vm-keys/ssh_host_ed25519_key",
  "configurations/dev-vm/example_ssh_host_ed25519_key",
] as const;
/**
 * The built-in health check: the VM finished booting and no unit failed (`--wait`: until the
 * boot is done; exit 0 only for `running`). Bounded on the guest like every health check.
 */
export const BOOTED_CHECK = "systemctl is-system-running --wait";
/** Seconds the VM gets to stop after SIGTERM before its process group is killed. */
export const STOP_GRACE_SECONDS = 10;
/** Default bound on the wait for SSH after the boot (a VM boots slower without KVM). */
export const DEFAULT_BOOT_TIMEOUT = 300;

/** Where the VM's host key comes from. */
export type VmKey =
  /** A private key in the repository (dev-vm): copied for the run, pinned by the committed .pub. */
  | { kind: "repository"; privateKey: string; publicKey: string }
  /** A new key made for this run (`ssh-keygen`), pinned for this run only, then deleted. */
  | { kind: "throw-away" };

/** Options of a VM run. */
export interface VmOptions {
  /** Flake to build from (default the repository). */
  flake: string;
  /** The port on 127.0.0.1 forwarded to the guest's port 22. */
  port: number;
  /** Seconds to wait for SSH after the VM starts. */
  bootTimeout: number;
  connectTimeout: number;
  sshOptions: readonly string[];
  keep: boolean;
}

/** The plan of one VM run. */
export interface VmPlan {
  host: string;
  /** The build's flake reference. */
  installable: string;
  /** `run-<host>-vm`, the runner under the build's `bin/`. */
  runner: string;
  target: SshTarget;
  key: VmKey;
  healthChecks: readonly string[];
  healthCheckTimeout: number;
  bootTimeout: number;
  connectTimeout: number;
  sshOptions: readonly string[];
  keep: boolean;
}

/** What the steps need that is only known while running: the run folder and the build. */
export interface VmValues {
  /** The run's private folder (keys, disk image, scratch, known_hosts, console log). */
  run: string;
  /** The built VM's store path. */
  vm: string;
}

/** Placeholders for --dry-run. */
export const PLACEHOLDERS: VmValues = { run: "<run>", vm: "<vm>" };

/** The run folder's files. */
export function runFiles(run: string) {
  return {
    keys: `${run}/keys`,
    hostKey: `${run}/keys/ssh_host_ed25519_key`,
    disk: `${run}/${"disk.qcow2"}`,
    tmp: `${run}/tmp`,
    knownHosts: `${run}/known_hosts`,
    console: `${run}/console.log`,
  };
}

/** One step of a VM run. */
export type VmStep =
  | { kind: "build"; argv: string[] }
  /** The VM's host key: copied from the repository (`copy`), or made (`argv`). */
  | { kind: "host-key"; what: string; copy?: { from: string; to: string }; argv?: string[] }
  | { kind: "boot"; argv: string[]; env: Record<string, string> }
  | { kind: "wait-ssh"; argv: string[]; timeoutSeconds: number }
  | { kind: "health-check"; check: string; argv: string[]; timeoutSeconds: number }
  | { kind: "power-off"; what: string }
  | { kind: "keep"; what: string };

/** The VM's key: dev-vm's from the repository when it has one, else a throw-away one. */
export function vmKey(host: string, existing: ReadonlySet<string>): VmKey {
  if (host === DEV_VM) {
    const privateKey = DEV_VM_KEY_FILES.find((f) => existing.has(f));
    if (privateKey !== undefined) {
      return {
        kind: "repository",
        privateKey,
        publicKey: `configurations/${DEV_VM}/ssh_host_ed25519_key.pub`,
      };
    }
  }
  return { kind: "throw-away" };
}

/** The plan for `host`, from its facts. */
export function planVm(
  host: string,
  facts: HostFacts,
  options: VmOptions & { key: VmKey },
): VmPlan {
  return {
    host,
    installable: `${options.flake}#nixosConfigurations."${host}".config.system.build.vm`,
    runner: `run-${host}-vm`,
    target: { host, address: VM_ADDRESS, port: options.port, user: facts.user },
    key: options.key,
    healthChecks: [BOOTED_CHECK, ...facts.healthChecks],
    healthCheckTimeout: facts.healthCheckTimeout,
    bootTimeout: options.bootTimeout,
    connectTimeout: options.connectTimeout,
    sshOptions: options.sshOptions,
    keep: options.keep,
  };
}

/** The SSH context of the run: the run's known_hosts, pinning the key the VM runs with. */
export function sshContext(plan: VmPlan, values: VmValues): SshContext {
  return {
    knownHostsFile: runFiles(values.run).knownHosts,
    extraOptions: plan.sshOptions,
    connectTimeout: plan.connectTimeout,
  };
}

/**
 * The runner's environment: the disk image and scratch folder in the run folder (nothing left
 * in the folder the task was started in), the keys as DEVOPS_VM_KEYS (and DEV_VM_KEYS, where
 * dev-vm mounts its key), the SSH port forwarded on 127.0.0.1 only, no window.
 */
export function runnerEnv(plan: VmPlan, values: VmValues): Record<string, string> {
  const files = runFiles(values.run);
  return {
    NIX_DISK_IMAGE: files.disk,
    TMPDIR: files.tmp,
    USE_TMPDIR: "1",
    DEVOPS_VM_KEYS: files.keys,
    DEV_VM_KEYS: files.keys,
    QEMU_NET_OPTS: `hostfwd=tcp:${VM_ADDRESS}:${plan.target.port}-:22`,
    QEMU_OPTS: "-nographic",
  };
}

/** `nix build` of the VM, printing its store path as JSON (nix 2.8 has no --print-out-paths). */
export function buildArgv(plan: VmPlan): string[] {
  return ["nix", "build", "--no-link", "--json", plan.installable];
}

/** Every step of the run, in order. */
export function vmSteps(plan: VmPlan, values: VmValues): VmStep[] {
  const files = runFiles(values.run);
  const ssh = sshContext(plan, values);
  const steps: VmStep[] = [
    { kind: "build", argv: buildArgv(plan) },
    plan.key.kind === "repository"
      ? {
        kind: "host-key",
        copy: { from: plan.key.privateKey, to: files.hostKey },
        what: `the VM's key from ${plan.key.privateKey}, pinned by ${plan.key.publicKey}`,
      }
      : {
        kind: "host-key",
        argv: ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", plan.host, "-f", files.hostKey],
        what: "a throw-away host key (and so sops-nix age identity) for this run, pinned",
      },
    {
      kind: "boot",
      // The runner's output (the serial console) goes to a file: it outlives the task (--keep).
      argv: ["sh", "-c", 'exec "$0" > "$1" 2>&1', `${values.vm}/bin/${plan.runner}`, files.console],
      env: runnerEnv(plan, values),
    },
    {
      kind: "wait-ssh",
      argv: sshExecArgv(plan.target, ssh, ["true"], "new"),
      timeoutSeconds: plan.bootTimeout,
    },
    ...plan.healthChecks.map((check): VmStep => ({
      kind: "health-check",
      check,
      argv: sshArgv(
        plan.target,
        ssh,
        shCommand(HEALTH_CHECK_SCRIPT, [String(plan.healthCheckTimeout), check]),
        "new",
      ),
      // Bounded on the guest; the task's own bound is the fallback.
      timeoutSeconds: plan.healthCheckTimeout + 10,
    })),
  ];
  steps.push(
    plan.keep
      ? { kind: "keep", what: "leave the VM running and print how to connect and stop it" }
      : {
        kind: "power-off",
        what: `SIGTERM to the VM's process group, SIGKILL after ${STOP_GRACE_SECONDS} s; ` +
          "the run folder (keys, disk image) removed",
      },
  );
  return steps;
}

/** One line per step, for --dry-run (health checks by their command, not the script). */
export function describeVmStep(step: VmStep): string {
  switch (step.kind) {
    case "build":
      return `build: ${formatCommand(step.argv)}`;
    case "host-key":
      return `host key: ${step.what}: ${
        step.argv ? formatCommand(step.argv) : `copy to ${step.copy?.to} (0600)`
      }`;
    case "boot":
      return `boot: ${
        Object.entries(step.env).map(([k, v]) => `${k}=${formatCommand([v])}`).join(" ")
      } ${formatCommand(step.argv.slice(3, 4))} > ${
        formatCommand(step.argv.slice(4))
      } (a process group of its own)`;
    case "wait-ssh":
      return `wait for SSH (at most ${step.timeoutSeconds} s): ${formatCommand(step.argv)}`;
    case "health-check":
      return `health check (fleet layer, bounded on the guest): ${step.check}`;
    case "power-off":
      return `power off: ${step.what}`;
    case "keep":
      return `keep: ${step.what}`;
  }
}

/** How to reach a kept VM and stop it. */
export function keepText(plan: VmPlan, values: VmValues, pid: number): string {
  const ssh = sshContext(plan, values);
  return [
    `${plan.host}: the VM runs (pid ${pid}); connect with:`,
    `  ${formatCommand(sshArgv(plan.target, ssh, "").slice(0, -1))}`,
    `stop it with: kill -TERM -${pid} && rm -rf ${formatCommand([values.run])}`,
  ].join("\n");
}
