// Host keys as the repository pins them: one parser, one fingerprint, one reader of
// ssh-keyscan's output. Pure; no SSH is run here.
import { createHash } from "node:crypto";
import { base64 } from "@scure/base";

/** The key types OpenSSH writes in a `.pub` line. */
const KEY_TYPE = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-[a-z0-9@.-]+)$/;
/** Standard base64, as OpenSSH writes a key's blob. */
const BLOB = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * `<type> <base64>` of an OpenSSH public key line, its comment dropped; throws naming `source`
 * (the file it came from) when it is not one.
 */
export function publicKeyBody(line: string, source?: string): string {
  const [type, blob] = line.trim().split(/\s+/);
  if (type === undefined || blob === undefined || !KEY_TYPE.test(type) || !BLOB.test(blob)) {
    const where = source === undefined ? `"${line.trim().slice(0, 40)}"` : `in "${source}"`;
    throw new Error(
      `Cannot read the public key ${where}: not an OpenSSH key line ("ssh-ed25519 AAAA…")`,
    );
  }
  return `${type} ${blob}`;
}

/**
 * A host's pinned key from its `.pub` file: Ed25519 only (the kind the repository pins and
 * the only one ssh is then offered, `HostKeyAlgorithms=ssh-ed25519`); throws naming `file`.
 */
export function parseHostKey(text: string, file: string): string {
  let body: string;
  try {
    body = publicKeyBody(text, file);
  } catch {
    body = "";
  }
  if (!body.startsWith("ssh-ed25519 ")) {
    throw new Error(`Invalid host key in "${file}": expected "ssh-ed25519 AAAA…"`);
  }
  return body;
}

/** The fingerprint `ssh-keygen -l` shows: `SHA256:<base64 without padding>`. */
export function fingerprint(line: string): string {
  const blob = publicKeyBody(line).split(" ")[1]!;
  const digest = createHash("sha256").update(base64.decode(blob)).digest();
  return `SHA256:${base64.encode(new Uint8Array(digest)).replace(/=+$/, "")}`;
}

/** The Ed25519 key in `ssh-keyscan` output (`<name> ssh-ed25519 AAAA…`), if any. */
export function keyFromKeyscan(output: string): string | undefined {
  for (const line of output.split("\n")) {
    const match = line.match(/^[^#\s]\S*\s+(ssh-ed25519\s+[A-Za-z0-9+/]+={0,2})(\s|$)/);
    if (match) return match[1];
  }
  return undefined;
}

/** `ssh-keyscan` of a host's Ed25519 key: only to show what the host presents, never to trust it. */
export function keyscanArgv(address: string, port: number, timeoutSeconds: number): string[] {
  return [
    "ssh-keyscan",
    "-T",
    String(timeoutSeconds),
    "-p",
    String(port),
    "-t",
    "ed25519",
    "--",
    address,
  ];
}
