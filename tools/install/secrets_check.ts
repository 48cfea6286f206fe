// The secrets chain, checked before a disk is wiped: the private host key is the committed one,
// and its age identity decrypts secrets/<host>.yaml exactly as sops-nix will at first boot. The
// decrypted values stay in memory.
import { parse as parseYaml } from "yaml";
import {
  listSecretFiles,
  matchRule,
  parseSopsConfig,
  readSopsRecipients,
  sshPrivateKeyToAgeIdentity,
  sshPublicKeyToAge,
} from "../lib/sops/mod.ts";
import { CommandError } from "../lib/errors.ts";
import { fingerprint, publicKeyBody } from "../lib/fleet/mod.ts";
import type { Runner } from "../lib/runner.ts";
import { DISK_KEYS_SECRET, diskKeySecretPath } from "./disk_keys.ts";

const SOPS_TIMEOUT_MS = 60_000;
const MAX_KEY_BYTES = 64 * 1024;

/** A private key file that may be used: checked mode and owner. */
export async function checkKeyFile(path: string): Promise<void> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    const cause = error instanceof Deno.errors.NotFound ? "no such file" : (error as Error).message;
    throw new Error(`Cannot use host key "${path}": ${cause}`);
  }
  if (!info.isFile) throw new Error(`Cannot use host key "${path}": not a file`);
  // An OpenSSH private key is a few hundred bytes: anything big is the wrong file, and reading
  // it would only slow every step down to its time limit.
  if (info.size > MAX_KEY_BYTES) {
    throw new Error(
      `Cannot use host key "${path}": ${info.size} bytes is too big for an SSH private key`,
    );
  }
  const mode = (info.mode ?? 0) & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new Error(
      `Cannot use host key "${path}": mode ${
        mode.toString(8).padStart(4, "0")
      } lets others read it; chmod 600 it`,
    );
  }
  const uid = Deno.uid();
  if (uid !== null && info.uid !== uid) {
    throw new Error(
      `Cannot use host key "${path}": owned by uid ${info.uid}, not by you (uid ${uid})`,
    );
  }
}

/** The recipients a sops file is encrypted for (from its metadata; nothing is decrypted). */
export function sopsAgeRecipients(text: string): string[] {
  const doc = parseYaml(text) as { sops?: { age?: { recipient?: unknown }[] } } | null;
  return (doc?.sops?.age ?? []).map((a) => a.recipient).filter((r): r is string =>
    typeof r === "string"
  );
}

/**
 * Checks, from the file's metadata alone (no key needed), that `secretsFile` is encrypted for the
 * age recipient of the committed public key; returns that recipient.
 */
export async function checkRecipient(
  root: string,
  host: string,
  options: { publicKeyPath: string; secretsFile: string },
): Promise<string> {
  const committed = await Deno.readTextFile(`${root}/${options.publicKeyPath}`).catch(() => {
    throw new Error(`Cannot install host "${host}": no ${options.publicKeyPath}`);
  });
  const recipient = sshPublicKeyToAge(committed);
  const fileText = await Deno.readTextFile(`${root}/${options.secretsFile}`).catch(() => {
    throw new Error(
      // The host has a committed key here, so `host add` would refuse; replace-key (with the
      // same key) makes the secrets file.
      `Cannot install host "${host}": no ${options.secretsFile}; run deno task secrets host replace-key ${host} --key-file ${options.publicKeyPath}, then git add ${options.secretsFile}`,
    );
  });
  if (!sopsAgeRecipients(fileText).includes(recipient)) {
    throw new Error(
      `Cannot install host "${host}": ${options.secretsFile} is not encrypted for its key (${recipient}), so sops-nix could not decrypt it at first boot; run deno task secrets host replace-key ${host} --key-file ${options.publicKeyPath}, or deno task rekey`,
    );
  }
  return recipient;
}

/** What the check found: the key's fingerprint and the decrypted document (memory only). */
export interface KeyCheck {
  fingerprint: string;
  recipient: string;
  secrets: Record<string, unknown>;
}

/** Options for {@linkcode checkSecretsChain}. */
export interface ChainOptions {
  root: string;
  host: string;
  keyPath: string;
  publicKeyPath: string;
  secretsFile: string;
  /** An empty folder for sops' HOME, so it finds no other identity. */
  emptyHome: string;
  /** The other sops files the host reads ({@linkcode hostSopsFiles}): each must decrypt too. */
  otherFiles?: readonly string[];
}

/**
 * Checks that the private key at `keyPath` is the one in `publicKeyPath` (ssh-keygen -y) and
 * that its age identity decrypts `secretsFile` with nothing else in sops' environment.
 */
export async function checkSecretsChain(runner: Runner, options: ChainOptions): Promise<KeyCheck> {
  const { root, host, keyPath } = options;
  await checkKeyFile(keyPath);
  const derived = await runner.text({
    // -P "": a key with a passphrase fails here instead of prompting on the terminal (a host
    // key has none: sshd and sops-nix read it unattended).
    argv: ["ssh-keygen", "-y", "-P", "", "-f", keyPath],
    timeoutMs: 10_000,
  })
    .catch((error: Error) => {
      throw new Error(
        `Cannot use host key "${keyPath}": ${error.message.replace(/^.*?: ssh-keygen .*?: /, "")}`,
      );
    });
  const committed = await Deno.readTextFile(`${root}/${options.publicKeyPath}`).catch(() => {
    throw new Error(`Cannot install host "${host}": no ${options.publicKeyPath}`);
  });
  if (publicKeyBody(derived) !== publicKeyBody(committed)) {
    throw new Error(
      `Cannot install host "${host}": "${keyPath}" is not its key (it is ${
        fingerprint(derived)
      }, ${options.publicKeyPath} is ${fingerprint(committed)})`,
    );
  }
  let identity: string;
  try {
    identity = sshPrivateKeyToAgeIdentity(await Deno.readTextFile(keyPath));
  } catch (error) {
    throw new Error(`Cannot use host key "${keyPath}": ${(error as Error).message}`);
  }
  const recipient = await checkRecipient(root, host, options);
  const output = await sopsDecrypt(runner, root, options.secretsFile, identity, options.emptyHome);
  if (!output.ok) {
    throw new Error(
      `Cannot install host "${host}": its key does not decrypt ${options.secretsFile} (sops: ${output.cause})`,
    );
  }
  const secrets = JSON.parse(output.stdout) as Record<string, unknown>;
  await checkHostFiles(root, options.otherFiles ?? [], {
    runner,
    host,
    recipient,
    identity,
    emptyHome: options.emptyHome,
  });
  return { fingerprint: fingerprint(committed), recipient, secrets };
}

/** `sops decrypt` of `file` seeing only `identity`: no HOME keys, nothing of the operator's. */
async function sopsDecrypt(
  runner: Runner,
  root: string,
  file: string,
  identity: string,
  emptyHome: string,
): Promise<{ ok: true; stdout: string } | { ok: false; cause: string }> {
  try {
    const result = await runner.run({
      argv: ["sops", "decrypt", "--output-type", "json", file],
      cwd: root,
      clearEnv: true,
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: emptyHome,
        SOPS_AGE_KEY: identity,
      },
      // A hung sops (an age plugin waiting for a terminal) must not hang the install.
      timeoutMs: SOPS_TIMEOUT_MS,
      secretStdout: true,
    });
    return { ok: true, stdout: result.stdout };
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    const lines = error.stderrTail.split("\n").filter(Boolean);
    return { ok: false, cause: lines.at(-1) ?? `exit code ${error.code}` };
  }
}

/**
 * Why a disk passphrase cannot be used as it is, if it cannot (the value is never named). The
 * file sent is the value's bytes exactly; disko hands a LUKS `passwordFile` to cryptsetup as
 * `echo -n "$(cat FILE)"` (disko lib/types/luks.nix at the pinned 878ec37), which drops trailing
 * newlines and NUL bytes, while `keyFile`/`settings.keyFile`/`additionalKeyFiles` are read raw
 * and ZFS reads a passphrase file up to its first newline, which it trims (openzfs
 * lib/libzfs/libzfs_crypto.c get_key_material_raw, getline; read at 06b7649). Refusing a blank
 * value, a NUL and any line break makes every reader get the same bytes, and a person can type
 * them at the boot prompt (one line, ended by Enter). A YAML block scalar (`|`) ends in a
 * newline: `|-` or a quoted string does not.
 */
export function passphraseProblem(value: string): string | undefined {
  if (value.trim() === "") return "is blank (white space only): no passphrase at all";
  if (value.includes("\0")) {
    return "holds a NUL byte, which disko's shell drops (the disk would get another passphrase)";
  }
  if (/[\r\n]/.test(value)) {
    return "holds a line break (a YAML `|` block ends in one; use `|-` or a quoted string): disko drops a trailing one, and a passphrase is typed on one line at boot";
  }
  return undefined;
}

/**
 * Why a ZFS passphrase (`keyformat = "passphrase"`) cannot be used, if it cannot: zfs takes 8 to
 * 512 bytes (openzfs lib/libzfs/libzfs_crypto.c validate_key, MIN_PASSPHRASE_LEN and
 * MAX_PASSPHRASE_LEN; read at 06b7649), and would refuse another after disko wiped the disks.
 */
export function zfsPassphraseProblem(value: string): string | undefined {
  const bytes = new TextEncoder().encode(value).length;
  if (bytes >= 8 && bytes <= 512) return undefined;
  return `is ${bytes} bytes, and a ZFS passphrase (keyformat = "passphrase") must be 8 to 512: zfs would refuse it after the disks are wiped`;
}

/** The passphrase for each installer path, from the decrypted secrets; errors name the missing one. */
export function diskPassphrases(
  secrets: Record<string, unknown>,
  installerPaths: readonly string[],
  context: { host: string; secretsFile: string; zfsPassphrasePaths?: readonly string[] },
): string[] {
  const table = secrets[DISK_KEYS_SECRET];
  return installerPaths.map((path) => {
    const value = typeof table === "object" && table !== null
      ? (table as Record<string, unknown>)[path]
      : undefined;
    if (typeof value === "number" || typeof value === "boolean") {
      // YAML read an unquoted passphrase as a number (0123 → 123) or yes/no: not what was typed.
      throw new Error(
        `Cannot install host "${context.host}": the disk passphrase ${
          diskKeySecretPath(path)
        } in ${context.secretsFile} is a ${typeof value}, not a string; quote it in sops edit ${context.secretsFile}`,
      );
    }
    if (typeof value === "string" && value !== "") {
      const problem = passphraseProblem(value) ??
        (context.zfsPassphrasePaths?.includes(path) ? zfsPassphraseProblem(value) : undefined);
      if (problem !== undefined) {
        throw new Error(
          `Cannot install host "${context.host}": the disk key ${
            diskKeySecretPath(path)
          } in ${context.secretsFile} ${problem}; change it with sops edit ${context.secretsFile}`,
        );
      }
    }
    if (typeof value !== "string" || value === "") {
      throw new Error(
        `Cannot install host "${context.host}": ${context.secretsFile} has no disk passphrase ${
          diskKeySecretPath(path)
        } (disko reads it from ${path}); add it: sops set ${context.secretsFile} '${
          diskKeySecretPath(path)
        }' '"<passphrase>"'`,
      );
    }
    return value;
  });
}

/**
 * Checks that git tracks each of `paths` (relative to `root`): a flake sees only tracked files,
 * so an untracked secrets file would pass the check here and be missing from the installed system.
 * A repository that is not a git checkout (a path flake) sees every file: nothing to check.
 */
export async function checkTracked(
  runner: Runner,
  root: string,
  host: string,
  paths: readonly string[],
): Promise<void> {
  const result = await runner.run({
    argv: ["git", "-C", root, "ls-files", "-z", "--", ...paths],
    okCodes: [128],
    timeoutMs: 30_000,
  });
  if (result.code !== 0) return;
  const tracked = new Set(result.stdout.split("\0"));
  const untracked = paths.filter((path) => !tracked.has(path));
  if (untracked.length > 0) {
    throw new Error(
      `Cannot install host "${host}": git does not track ${
        untracked.join(", ")
      }, so the flake cannot see ${untracked.length === 1 ? "it" : "them"}; git add ${
        untracked.length === 1 ? "it" : "them"
      } (or commit), then run again`,
    );
  }
}

/** The other sops files a host reads at first boot, and how they were found. */
export interface HostFiles {
  /** Repository paths, secrets/<host>.yaml not among them. */
  files: string[];
  /** How they were found, for the log line. */
  source: string;
}

/**
 * The sops files besides secrets/<host>.yaml that sops-nix on the new machine reads, as far as
 * this machine can tell before the install: the host's evaluated `sops.secrets` would name them,
 * but a NixOS evaluation needs nixpkgs, so they come from `.sops.yaml`'s grants instead — every
 * tracked file under secrets/ whose creation rule (the first that matches, as sops picks it)
 * names the host's age key — and every `secrets/users/<user>/<host>.yaml`, the files
 * `devops.userSecrets` installs.
 */
export async function hostSopsFiles(
  runner: Runner,
  root: string,
  options: { host: string; recipient: string },
): Promise<HostFiles> {
  const { host, recipient } = options;
  const own = `secrets/${host}.yaml`;
  let files = await listSecretFiles(root);
  const tracked = await runner.run({
    argv: ["git", "-C", root, "ls-files", "-z", "--", "secrets"],
    okCodes: [128],
    timeoutMs: 30_000,
  });
  if (tracked.code === 0) {
    const names = new Set(tracked.stdout.split("\0"));
    files = files.filter((file) => names.has(file));
  }
  const configText = await Deno.readTextFile(`${root}/.sops.yaml`).catch(() => undefined);
  const config = configText === undefined ? undefined : parseSopsConfig(configText);
  const userFile = new RegExp(`^secrets/users/[^/]+/${host.replaceAll(".", "\\.")}\\.yaml$`);
  return {
    files: files.filter((file) =>
      file !== own &&
      (userFile.test(file) ||
        (config !== undefined &&
          (matchRule(config, file)?.ageRecipients ?? []).includes(recipient)))
    ),
    source:
      `every file .sops.yaml grants ${host}'s key, and secrets/users/*/${host}.yaml (the host's evaluated sops.secrets needs nixpkgs, so it is not read here)`,
  };
}

/**
 * Checks that each of `files` is encrypted for `recipient` (metadata) and, given the key's age
 * `identity`, that it decrypts with it alone, as sops-nix will at first boot; nothing is kept.
 */
export async function checkHostFiles(
  root: string,
  files: readonly string[],
  options: {
    host: string;
    recipient: string;
    /** With `identity` and `emptyHome`: each file is decrypted with that identity alone. */
    runner?: Runner;
    identity?: string;
    emptyHome?: string;
  },
): Promise<void> {
  const { host, recipient } = options;
  for (const file of files) {
    const text = await Deno.readTextFile(`${root}/${file}`);
    const recipients = readSopsRecipients(text);
    if (recipients === null || !recipients.includes(recipient)) {
      throw new Error(
        `Cannot install host "${host}": ${file}, which it reads at first boot, is not encrypted for its key (${recipient}), so sops-nix could not decrypt it; run deno task rekey${
          recipients === null ? ` (it is not a sops file: encrypt it with sops)` : ""
        }`,
      );
    }
    if (
      options.runner === undefined || options.identity === undefined ||
      options.emptyHome === undefined
    ) continue;
    const output = await sopsDecrypt(
      options.runner,
      root,
      file,
      options.identity,
      options.emptyHome,
    );
    if (!output.ok) {
      throw new Error(
        `Cannot install host "${host}": its key does not decrypt ${file}, which it reads at first boot (sops: ${output.cause})`,
      );
    }
  }
}
