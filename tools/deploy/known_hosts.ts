// The pinned known_hosts the deploy's SSH trusts: generated from the repository's host keys.
import { base64, base64nopad } from "@scure/base";

/** A host's pinned Ed25519 key as read from configurations/<host>/ssh_host_ed25519_key.pub. */
export interface PinnedKey {
  host: string;
  address: string;
  port: number;
  /** `ssh-ed25519 AAAA…` (the comment dropped). */
  key: string;
}

/** Parses a `.pub` file: `ssh-ed25519 <base64> [comment]`; throws naming the file. */
export function parsePublicKey(text: string, file: string): string {
  const [type, blob] = text.trim().split(/\s+/);
  if (type !== "ssh-ed25519" || blob === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(blob)) {
    throw new Error(`Invalid host key in "${file}": expected "ssh-ed25519 AAAA…"`);
  }
  return `${type} ${blob}`;
}

/**
 * The known_hosts file content for the pinned keys, one line per host, keyed by the host's
 * name: ssh looks them up through `HostKeyAlias=<host>`, so a key is never shared by two hosts
 * that happen to have the same address.
 */
export function knownHostsText(keys: readonly PinnedKey[]): string {
  return keys.map((k) => `${k.host} ${k.key}\n`).join("");
}

/** The OpenSSH fingerprint of a public key line: `SHA256:…` (unpadded base64). */
export async function fingerprint(key: string): Promise<string> {
  const blob = key.trim().split(/\s+/)[1] ?? "";
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new Uint8Array(base64.decode(blob))),
  );
  return `SHA256:${base64nopad.encode(digest)}`;
}

/** The Ed25519 key in `ssh-keyscan` output (`<name> ssh-ed25519 AAAA…`), if any. */
export function keyFromKeyscan(output: string): string | undefined {
  for (const line of output.split("\n")) {
    const match = line.match(/^\S+\s+(ssh-ed25519\s+[A-Za-z0-9+/]+={0,2})/);
    if (match) return match[1];
  }
  return undefined;
}
