// The pinned known_hosts every tool's ssh trusts: written from the repository's host keys into
// a private folder, one line per host keyed by its name (ssh looks it up through HostKeyAlias).
import { parseHostKey } from "./keys.ts";

/** A host's pinned Ed25519 key (`ssh-ed25519 AAAA…`, the comment dropped). */
export interface PinnedKey {
  host: string;
  key: string;
}

/**
 * The known_hosts content for the pinned keys, one line per host, keyed by the host's name:
 * ssh looks them up through `HostKeyAlias=<host>`, so a key is never shared by two hosts that
 * happen to have the same address.
 */
export function knownHostsText(keys: Iterable<PinnedKey>): string {
  return [...keys].map((k) => `${k.host} ${parseHostKey(k.key, `the key of ${k.host}`)}\n`)
    .join("");
}

/** Writes the known_hosts of `keys` to `file` (0600; the folder is the caller's, private). */
export async function writeKnownHosts(file: string, keys: Iterable<PinnedKey>): Promise<void> {
  await Deno.writeTextFile(file, knownHostsText(keys), { mode: 0o600 });
}

/** A private folder holding a pinned known_hosts; dispose it to remove it. */
export interface PinnedKnownHosts extends AsyncDisposable {
  readonly file: string;
}

/** Writes the known_hosts of `keys` into a new 0700 temporary folder. */
export async function createPinnedKnownHosts(
  keys: Iterable<PinnedKey>,
): Promise<PinnedKnownHosts> {
  const dir = await Deno.makeTempDir({ prefix: "devops-pinned-" });
  try {
    await Deno.chmod(dir, 0o700);
    const file = `${dir}/known_hosts`;
    await writeKnownHosts(file, keys);
    return {
      file,
      async [Symbol.asyncDispose]() {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      },
    };
  } catch (error) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw error;
  }
}
