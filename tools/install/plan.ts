// The install plan (pure): from the host's checked facts and the command line to the ordered list
// of steps the executor runs and --dry-run prints. Nothing here touches a file or a host.
import { hostFiles, keyscanArgv } from "../lib/fleet/mod.ts";
import { formatCommand } from "../lib/quote.ts";
import { diskKeySecretPath } from "./disk_keys.ts";

/** Replaced at run time by the private tmpfs folder the executor makes (0700). */
export const WORK_DIR = "$INSTALL_WORK";

/** nixos-anywhere's phases, in order. */
export const PHASES = ["kexec", "disko", "install", "reboot"] as const;
/** One nixos-anywhere phase. */
export type Phase = (typeof PHASES)[number];

/** Where the host's private key comes from. */
export type KeySource =
  | { kind: "file"; path: string }
  | { kind: "new"; path: string; hostHasKey: boolean }
  /** --dry-run without a key: the plan names the step it would need. */
  | { kind: "none" };

/** What the plan is made from: checked facts about the host and the command line. */
export interface InstallInput {
  host: string;
  /** `root@<address>` is what nixos-anywhere logs into. */
  address: string;
  port: number;
  key: KeySource;
  /** Distinct paths of the key files the disko layout reads (see disk_keys.ts). */
  diskKeyPaths: readonly string[];
  /** Those of them that are ZFS passphrases (`keyformat = "passphrase"`: 8 to 512 bytes). */
  zfsPassphrasePaths?: readonly string[];
  /** `ask` the user before `git add`, or `yes` (--yes). */
  stage: "ask" | "yes";
  /** Show the installer's fingerprint and ask, or go on (--yes). */
  confirmInstaller: boolean;
  buildOn?: "local" | "remote";
  phases?: readonly Phase[];
  sshOptions: readonly string[];
  connectTimeout: number;
  /** Seconds to wait for the installed host's SSH after the reboot. */
  waitSeconds: number;
  /** Seconds nixos-anywhere may run before it is stopped (a hung build or connection). */
  installTimeoutSeconds: number;
}

/** One disk passphrase: from the secret at `secretPath` to `localFile`, sent to `installerPath`. */
export interface DiskKey {
  installerPath: string;
  /** A ZFS passphrase: zfs takes 8 to 512 bytes only. */
  zfsPassphrase: boolean;
  secretPath: string;
  localFile: string;
}

/** One step of an install, in order. */
export type Step =
  | { kind: "key-needed" }
  | { kind: "new-host-key"; keyPath: string; publicKeyPath: string; argv: string[] }
  | { kind: "rekey"; argv: string[] }
  | { kind: "stage"; argv: string[]; ask: boolean }
  | { kind: "check-key"; keyPath: string; publicKeyPath: string; secretsFile: string }
  | { kind: "disk-keys"; secretsFile: string; keys: DiskKey[] }
  | { kind: "extra-files"; dir: string; keyPath: string; publicKeyPath: string }
  | { kind: "scan-installer"; argv: string[]; timeoutSeconds: number; confirm: boolean }
  | { kind: "nixos-anywhere"; argv: string[]; timeoutSeconds: number }
  | { kind: "wait-ssh"; timeoutSeconds: number }
  | { kind: "check-system"; argv: string[] }
  | { kind: "check-secrets"; argv: string[] };

/** The plan: the steps, and what the executor needs to know about the target. */
export interface InstallPlan {
  host: string;
  address: string;
  port: number;
  steps: Step[];
}

function keyPathOf(key: KeySource): string {
  return key.kind === "none" ? "<private host key>" : key.path;
}

/**
 * What to run when a new key exists but the secrets are not re-keyed for it (the re-keying
 * failed or was interrupted): the same operation the install would run, then --host-key.
 */
export function finishNewKey(host: string, hostHasKey: boolean, keyPath: string): string {
  return `when the cause is fixed, finish with deno task secrets host ${
    hostHasKey ? "replace-key" : "add"
  } ${host} --key-file ${keyPath}.pub, then install with --host-key ${keyPath}`;
}

/** The folder nixos-anywhere copies onto the new system's root. */
export const EXTRA_FILES = `${WORK_DIR}/extra-files`;

/** Makes the ordered steps of an install (pure). */
export function planInstall(input: InstallInput): InstallPlan {
  const paths = hostFiles(input.host);
  const steps: Step[] = [];
  const key = input.key;
  if (key.kind === "none") steps.push({ kind: "key-needed" });
  if (key.kind === "new") {
    steps.push({
      kind: "new-host-key",
      keyPath: key.path,
      publicKeyPath: paths.publicKey,
      argv: [
        "ssh-keygen",
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-C",
        `root@${input.host}`,
        "-f",
        key.path,
      ],
    });
    steps.push({
      kind: "rekey",
      argv: [
        "deno",
        "task",
        "-q",
        "secrets",
        "host",
        key.hostHasKey ? "replace-key" : "add",
        input.host,
        "--key-file",
        `${key.path}.pub`,
        "-y",
      ],
    });
    steps.push({
      kind: "stage",
      // Named files only: a flake already sees edits to tracked files, and `git add secrets`
      // would also stage a stray decrypted file lying there.
      argv: ["git", "add", "--", paths.publicKey, ".sops.yaml", paths.secrets],
      ask: input.stage === "ask",
    });
  }
  const keyPath = keyPathOf(key);
  steps.push({
    kind: "check-key",
    keyPath,
    publicKeyPath: paths.publicKey,
    secretsFile: paths.secrets,
  });
  const diskKeys = input.diskKeyPaths.map((installerPath, i) => ({
    installerPath,
    zfsPassphrase: input.zfsPassphrasePaths?.includes(installerPath) ?? false,
    secretPath: diskKeySecretPath(installerPath),
    localFile: `${WORK_DIR}/disk-keys/${i + 1}.key`,
  }));
  if (diskKeys.length > 0) {
    steps.push({ kind: "disk-keys", secretsFile: paths.secrets, keys: diskKeys });
  }
  steps.push({ kind: "extra-files", dir: EXTRA_FILES, keyPath, publicKeyPath: paths.publicKey });
  steps.push({
    kind: "scan-installer",
    argv: keyscanArgv(input.address, input.port, input.connectTimeout),
    timeoutSeconds: input.connectTimeout,
    confirm: input.confirmInstaller,
  });
  const argv = [
    "nixos-anywhere",
    "--flake",
    `.#${input.host}`,
    "--target-host",
    `root@${input.address}`,
    "--ssh-port",
    String(input.port),
    "--extra-files",
    EXTRA_FILES,
    ...diskKeys.flatMap((k) => ["--disk-encryption-keys", k.installerPath, k.localFile]),
    ...(input.buildOn === undefined ? [] : ["--build-on", input.buildOn]),
    ...(input.phases === undefined ? [] : ["--phases", input.phases.join(",")]),
    ...input.sshOptions.flatMap((o) => ["--ssh-option", o]),
  ];
  steps.push({ kind: "nixos-anywhere", argv, timeoutSeconds: input.installTimeoutSeconds });
  if (input.phases === undefined || input.phases.includes("reboot")) {
    const attr = `.#nixosConfigurations.${input.host}.config`;
    steps.push({ kind: "wait-ssh", timeoutSeconds: input.waitSeconds });
    steps.push({
      kind: "check-system",
      argv: ["nix", "eval", "--raw", `${attr}.system.build.toplevel.outPath`],
    });
    steps.push({
      kind: "check-secrets",
      argv: [
        "nix",
        "eval",
        "--json",
        `${attr}.sops.secrets`,
        "--apply",
        "secrets: map (secret: secret.path) (builtins.attrValues secrets)",
      ],
    });
  }
  return { host: input.host, address: input.address, port: input.port, steps };
}

/** One line per step, as --dry-run prints it and the executor announces it. */
export function describeStep(
  step: Step,
  plan: Pick<InstallPlan, "host" | "address" | "port">,
): string {
  switch (step.kind) {
    case "key-needed":
      return `host key: needs --host-key <file> (0600, yours) or --new-host-key; the checks below run with it`;
    case "new-host-key":
      return `new host key: ${formatCommand(step.argv)} (kept, never deleted)`;
    case "rekey":
      return `write the .pub and re-key the secrets for it: ${formatCommand(step.argv)}`;
    case "stage":
      return `stage for the flake${step.ask ? " (asks first)" : ""}: ${formatCommand(step.argv)}`;
    case "check-key":
      return `check ${step.keyPath}: its public key is ${step.publicKeyPath}, and its age identity decrypts ${step.secretsFile} and every other sops file the host reads (.sops.yaml's grants, secrets/users/*/${plan.host}.yaml) (sops -d in memory, SOPS_AGE_KEY)`;
    case "disk-keys":
      return `disk passphrases from ${step.secretsFile} into 0600 files: ${
        step.keys.map((k) => `${k.secretPath} -> ${k.localFile}`).join(", ")
      }`;
    case "extra-files":
      return `extra files in ${step.dir} (0700): etc/ssh/ssh_host_ed25519_key (0600), etc/ssh/ssh_host_ed25519_key.pub (0644)`;
    case "scan-installer":
      return `installer host key: ${formatCommand(step.argv)}, show its fingerprint${
        step.confirm ? " and ask" : ""
      }; ~/.ssh/known_hosts is never written`;
    case "nixos-anywhere":
      return `install: ${
        formatCommand(step.argv)
      } (stopped if not done within ${step.timeoutSeconds} s)`;
    case "wait-ssh":
      return `wait up to ${step.timeoutSeconds} s for root@${plan.address}:${plan.port} to answer SSH with ${plan.host}'s pinned key`;
    case "check-system":
      return `check /run/current-system is ${formatCommand(step.argv)}`;
    case "check-secrets":
      return `check sops-nix made every secret of ${formatCommand(step.argv)}`;
  }
}

/** The dry-run text: every step, then the clean-up the executor always does. */
export function describePlan(plan: InstallPlan): string[] {
  return [
    `${WORK_DIR}: a private 0700 folder in $XDG_RUNTIME_DIR (tmpfs), made at run time`,
    ...plan.steps.map((step, i) => `${i + 1}. ${describeStep(step, plan)}`),
    `finally: remove ${WORK_DIR} (disk passphrases, host key copy), also on Ctrl-C`,
  ];
}
