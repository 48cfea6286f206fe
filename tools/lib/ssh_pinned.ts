// SSH that trusts only a host key from the repository: a known_hosts file of its own in a private
// temporary folder, StrictHostKeyChecking=yes and HostKeyAlias, so a first connection is never
// trusted on first use and ~/.ssh/known_hosts is never read or written.
import { createHash } from "node:crypto";
import { base64 } from "@scure/base";
import { formatCommand } from "./quote.ts";

/** A host reached over SSH whose key is known in advance. */
export interface PinnedTarget {
  /** The name the key is filed under (HostKeyAlias): the host's name. */
  alias: string;
  address: string;
  port: number;
  user: string;
  /** `ssh-ed25519 AAAA… [comment]`. */
  publicKey: string;
}

/** Options for {@linkcode pinnedSshArgv}. */
export interface PinnedSshOptions {
  /** Seconds for ssh's ConnectTimeout. */
  connectTimeout: number;
  /** Extra `Key=Value` options, after ours: they cannot weaken the pinning (ssh keeps the first value). */
  extraOptions?: readonly string[];
}

/** `<type> <base64>` of a public key line, without the comment; throws when it is not one. */
export function publicKeyBody(line: string): string {
  const [type, blob] = line.trim().split(/\s+/);
  if (type === undefined || blob === undefined || !/^(ssh-|ecdsa-|sk-)/.test(type)) {
    throw new Error(`Cannot read the public key "${line.trim().slice(0, 40)}": not an OpenSSH key`);
  }
  return `${type} ${blob}`;
}

/** The fingerprint ssh-keygen -l shows: `SHA256:<base64 without padding>`. */
export function fingerprint(line: string): string {
  const blob = publicKeyBody(line).split(" ")[1]!;
  const digest = createHash("sha256").update(base64.decode(blob)).digest();
  return `SHA256:${base64.encode(new Uint8Array(digest)).replace(/=+$/, "")}`;
}

/** The known_hosts line that pins `target`'s key under its alias. */
export function knownHostsLine(target: PinnedTarget): string {
  return `${target.alias} ${publicKeyBody(target.publicKey)}\n`;
}

/** The ssh argv running `command` on `target`, trusting only the key in `knownHostsFile`. */
export function pinnedSshArgv(
  target: PinnedTarget,
  knownHostsFile: string,
  command: readonly string[],
  options: PinnedSshOptions,
): string[] {
  const ours = [
    `UserKnownHostsFile=${knownHostsFile}`,
    "GlobalKnownHostsFile=/dev/null",
    "StrictHostKeyChecking=yes",
    `HostKeyAlias=${target.alias}`,
    "UpdateHostKeys=no",
    "CheckHostIP=no",
    "BatchMode=yes",
    `ConnectTimeout=${options.connectTimeout}`,
  ];
  return [
    "ssh",
    ...[...ours, ...(options.extraOptions ?? [])].flatMap((o) => ["-o", o]),
    "-p",
    String(target.port),
    `${target.user}@${target.address}`,
    "--",
    formatCommand(command),
  ];
}

/** Why an ssh command failed, read from its stderr. */
export type SshFailure =
  | { kind: "host-key-mismatch" }
  | { kind: "unreachable"; detail: string }
  | { kind: "auth"; detail: string }
  | { kind: "other"; detail: string };

/** Classifies an ssh client's stderr (exit code 255). */
export function classifySshFailure(stderr: string): SshFailure {
  const detail = stderr.trim().split("\n").filter(Boolean).at(-1) ?? "";
  if (
    /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed|No ED25519 host key is known/i
      .test(stderr)
  ) {
    return { kind: "host-key-mismatch" };
  }
  if (
    /Connection refused|timed out|No route to host|Network is unreachable|Connection reset|closed by remote host|kex_exchange_identification|Could not resolve/i
      .test(stderr)
  ) {
    return { kind: "unreachable", detail };
  }
  if (/Permission denied/i.test(stderr)) return { kind: "auth", detail };
  return { kind: "other", detail };
}

/** A private folder holding a pinned known_hosts; dispose it to remove it. */
export interface PinnedKnownHosts extends AsyncDisposable {
  readonly file: string;
}

/** Writes `target`'s known_hosts line into a new 0700 temporary folder. */
export async function createPinnedKnownHosts(target: PinnedTarget): Promise<PinnedKnownHosts> {
  const dir = await Deno.makeTempDir({ prefix: "devops-pinned-" });
  await Deno.chmod(dir, 0o700);
  const file = `${dir}/known_hosts`;
  await Deno.writeTextFile(file, knownHostsLine(target), { mode: 0o600 });
  return {
    file,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
