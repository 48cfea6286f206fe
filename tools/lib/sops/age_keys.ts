// Ed25519 SSH keys to age X25519 keys (what ssh-to-age does), in TypeScript.
import { ed25519 } from "@noble/curves/ed25519.js";
import { sha512 } from "@noble/hashes/sha2.js";
import { base64, bech32 } from "@scure/base";

const ED25519 = "ssh-ed25519";

/** An SSH wire-format reader: uint32 lengths and length-prefixed strings. */
class WireReader {
  #bytes: Uint8Array;
  #at = 0;
  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
  }
  uint32(): number {
    if (this.#at + 4 > this.#bytes.length) throw new Error("truncated key data");
    const view = new DataView(this.#bytes.buffer, this.#bytes.byteOffset + this.#at, 4);
    this.#at += 4;
    return view.getUint32(0);
  }
  bytes(): Uint8Array {
    const length = this.uint32();
    if (this.#at + length > this.#bytes.length) throw new Error("truncated key data");
    const out = this.#bytes.subarray(this.#at, this.#at + length);
    this.#at += length;
    return out;
  }
  string(): string {
    return new TextDecoder().decode(this.bytes());
  }
  raw(length: number): Uint8Array {
    if (this.#at + length > this.#bytes.length) throw new Error("truncated key data");
    const out = this.#bytes.subarray(this.#at, this.#at + length);
    this.#at += length;
    return out;
  }
}

function decodeBase64(text: string): Uint8Array {
  try {
    return base64.decode(text);
  } catch {
    throw new Error("the key is not valid base64");
  }
}

/** The 32-byte Ed25519 public key in an OpenSSH public key line; throws a one-line cause. */
export function parseSshEd25519PublicKey(line: string): Uint8Array {
  const fields = line.trim().split(/\s+/);
  const [type, data] = fields;
  if (type === undefined || type === "" || data === undefined) {
    throw new Error("not an OpenSSH public key line");
  }
  if (type !== ED25519) throw new Error(`not an ed25519 key (type "${type}")`);
  const reader = new WireReader(decodeBase64(data));
  const innerType = reader.string();
  if (innerType !== ED25519) throw new Error(`key data says type "${innerType}", not ed25519`);
  const key = reader.bytes();
  if (key.length !== 32) throw new Error(`ed25519 key has ${key.length} bytes, not 32`);
  if (!ed25519.utils.isValidPublicKey(key)) throw new Error("not a point on the ed25519 curve");
  // A small-order point gives an age recipient every key "decrypts" to; sops refuses it.
  if (ed25519.Point.fromBytes(key).isSmallOrder()) throw new Error("a small-order (weak) key");
  return key;
}

/** The age recipient (`age1…`) for an Ed25519 public key: u = (1+y)/(1−y) mod 2^255−19. */
export function ed25519PublicKeyToAge(publicKey: Uint8Array): string {
  const u = ed25519.utils.toMontgomery(publicKey);
  return bech32.encode("age", bech32.toWords(u), false);
}

/** The age recipient for an OpenSSH ed25519 public key line. */
export function sshPublicKeyToAge(line: string): string {
  return ed25519PublicKeyToAge(parseSshEd25519PublicKey(line));
}

/** The age identity (`AGE-SECRET-KEY-1…`) for a 32-byte Ed25519 seed: SHA-512(seed)[0..32]. */
export function ed25519SeedToAgeIdentity(seed: Uint8Array): string {
  if (seed.length !== 32) throw new Error(`ed25519 seed has ${seed.length} bytes, not 32`);
  const scalar = sha512(seed).subarray(0, 32);
  return bech32.encode("AGE-SECRET-KEY-", bech32.toWords(scalar), false).toUpperCase();
}

/** The 32-byte seed of an unencrypted OpenSSH ed25519 private key file. */
export function parseSshEd25519PrivateKey(text: string): Uint8Array {
  const match = text.match(
    /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/,
  );
  if (!match) throw new Error("not an OpenSSH private key");
  const reader = new WireReader(decodeBase64(match[1]!.replace(/\s+/g, "")));
  const magic = new TextDecoder().decode(reader.raw(15));
  if (magic !== "openssh-key-v1\0") throw new Error("not an openssh-key-v1 private key");
  const cipher = reader.string();
  if (cipher !== "none") throw new Error(`the private key is encrypted (${cipher})`);
  reader.string(); // kdf name
  reader.bytes(); // kdf options
  const count = reader.uint32();
  if (count !== 1) throw new Error(`the file holds ${count} keys, not 1`);
  reader.bytes(); // public key blob
  const inner = new WireReader(reader.bytes());
  if (inner.uint32() !== inner.uint32()) throw new Error("the private key check bytes differ");
  const type = inner.string();
  if (type !== ED25519) throw new Error(`not an ed25519 key (type "${type}")`);
  inner.bytes(); // public key
  const secret = inner.bytes();
  if (secret.length !== 64) throw new Error(`ed25519 secret has ${secret.length} bytes, not 64`);
  return secret.slice(0, 32);
}

/** The age identity for an unencrypted OpenSSH ed25519 private key file's text. */
export function sshPrivateKeyToAgeIdentity(text: string): string {
  return ed25519SeedToAgeIdentity(parseSshEd25519PrivateKey(text));
}

/** Reads `path` and returns its age recipient; errors are one line naming the file. */
export async function ageRecipientFromSshPublicKeyFile(path: string): Promise<string> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    const cause = error instanceof Deno.errors.NotFound ? "no such file" : String(error);
    throw new Error(`Cannot read host key ${path}: ${cause}`);
  }
  try {
    return sshPublicKeyToAge(text);
  } catch (error) {
    throw new Error(`Cannot use host key ${path}: ${(error as Error).message}`);
  }
}

/** True for a well-formed age X25519 recipient (`age1…`, 32-byte payload). */
export function isAgeRecipient(value: string): boolean {
  try {
    if (!value.startsWith("age1")) return false;
    const decoded = bech32.decode(value as `${string}1${string}`);
    return decoded.prefix === "age" && bech32.fromWords(decoded.words).length === 32;
  } catch {
    return false;
  }
}
