// The fleet's inventory: where each host's files are in the repository, its pinned key, and
// the one check of what a user may give for an address, a port or an extra ssh option.
import { UsageError } from "../errors.ts";
import { hostAddressProblem } from "../validate.ts";
import { parseHostKey } from "./keys.ts";
import type { PinnedKey } from "./known_hosts.ts";

export { hostAddressProblem } from "../validate.ts";

/** A host's files, relative to the repository's root. */
export interface HostFiles {
  /** Its SSH host key, the pin of every connection and its secrets' age recipient. */
  publicKey: string;
  /** Its disk layout (disko), read by install. */
  disko: string;
  /** Its sops secrets. */
  secrets: string;
}

/** The repository paths of `host`'s files. */
export function hostFiles(host: string): HostFiles {
  return {
    publicKey: `configurations/${host}/ssh_host_ed25519_key.pub`,
    disko: `configurations/${host}/disko.nix`,
    secrets: `secrets/${host}.yaml`,
  };
}

/**
 * The pinned key of each host, read from its `.pub` file in the repository at `root`; throws
 * a {@linkcode UsageError} naming the first host without one (`what` says what is refused,
 * e.g. `Cannot deploy`).
 */
export async function loadPinnedKeys(
  root: string,
  hosts: Iterable<string>,
  what = "Cannot connect to",
): Promise<Map<string, PinnedKey>> {
  const pinned = new Map<string, PinnedKey>();
  for (const host of hosts) {
    const file = hostFiles(host).publicKey;
    const text = await Deno.readTextFile(`${root}/${file}`).catch(() => undefined);
    if (text === undefined) {
      throw new UsageError(`${what} "${host}": no pinned host key, ${file} is missing`);
    }
    pinned.set(host, { host, key: parseHostKey(text, file) });
  }
  return pinned;
}

/**
 * Why `address` is no host ssh can reach, or undefined: {@linkcode hostAddressProblem}, the one
 * check of every address a tool takes (facts, --target), an IPv6 address also in brackets.
 */
export function addressProblem(address: string): string | undefined {
  const bare = /^\[(.*)\]$/.exec(address)?.[1];
  if (bare === undefined) return hostAddressProblem(address);
  if (!bare.includes(":")) return "brackets are for IPv6 addresses only";
  return hostAddressProblem(bare);
}

/** The address without IPv6 brackets, or undefined when {@linkcode addressProblem} has one. */
export function normalizeAddress(address: string): string | undefined {
  if (addressProblem(address) !== undefined) return undefined;
  return /^\[(.*)\]$/.exec(address)?.[1] ?? address;
}

/** Why `value` is no TCP port (1 to 65535), or undefined. */
export function portProblem(value: string): string | undefined {
  return /^\d+$/.test(value) && Number(value) >= 1 && Number(value) <= 65535
    ? undefined
    : "expected a port number (1 to 65535)";
}

/**
 * Why `value` is no extra ssh option `Key=Value`, or undefined. A key is letters and digits
 * (so never `-o…`: ssh would read an option of its own); the value is one word, no spaces
 * (NIX_SSHOPTS, through which nix copy gets the same options, splits on white space), kept
 * whole: a list value (`ProxyJump=a,b`) is one option.
 */
export function sshOptionProblem(value: string): string | undefined {
  return /^[A-Za-z][A-Za-z0-9]*=\S+$/.test(value)
    ? undefined
    : "expected Key=Value without spaces (ssh -o), e.g. IdentityFile=~/.ssh/id_ed25519";
}

/** A commander collector of repeated `--ssh-option`s, each checked. */
export function collectSshOption(value: string, previous: string[]): string[] {
  const problem = sshOptionProblem(value);
  if (problem !== undefined) throw new UsageError(`Invalid --ssh-option "${value}": ${problem}`);
  return [...previous, value];
}
