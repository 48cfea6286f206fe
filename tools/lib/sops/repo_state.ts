// Reading what the secrets tools work from: `.sops.yaml`, the host keys under configurations/
// and the metadata of every file under secrets/. Entries the tools cannot handle safely are
// refused here, naming the entry, before anything is planned.
import { hostFiles } from "../fleet/inventory.ts";
import { readTextIfExists } from "../fs.ts";
import { hostNameProblem } from "../host_name.ts";
import { ageRecipientFromSshPublicKeyFile } from "./age_keys.ts";
import { parseSopsConfig, type SopsConfig } from "./sops_yaml.ts";
import { readSopsMetadata, type SopsRecipients } from "./sops_metadata.ts";

/** The folder of the files the tools manage; rules for files elsewhere are left alone. */
export const SECRETS_DIR = "secrets";

/** A file under secrets/ as found on disk. */
export interface SecretFile {
  /** Path relative to the repository root: `secrets/web1.yaml`. */
  path: string;
  /** Its sops metadata, or null when it has none in any format (plaintext). */
  metadata: SopsRecipients | null;
}

/** What the secrets tools read from a repository. */
export interface RepoState {
  config: SopsConfig;
  /** Host name → age recipient derived from its SSH host key. */
  hostKeys: Map<string, string>;
  files: SecretFile[];
}

/** The path of a host's public key file, relative to the root. */
export function hostKeyPath(host: string): string {
  return hostFiles(host).publicKey;
}

async function describeLink(root: string, rel: string): Promise<string> {
  const target = await Deno.readLink(`${root}/${rel}`).catch(() => "?");
  const info = await Deno.stat(`${root}/${rel}`).catch(() => undefined);
  if (info === undefined) return `${rel} is a dangling symbolic link (to ${target})`;
  if (info.isDirectory) return `${rel} is a symbolic link to a folder (${target})`;
  return `${rel} is a symbolic link (to ${target})`;
}

/**
 * Every file under secrets/, sorted. A symbolic link is refused: re-keying by rename would
 * replace the link with a copy and leave the real file readable by removed keys.
 */
export async function listSecretFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(dir: string) {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(`${root}/${dir}`));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound && dir === SECRETS_DIR) return;
      throw error;
    }
    for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isSymlink) {
        throw new Error(
          `Cannot work on ${SECRETS_DIR}/: ${await describeLink(
            root,
            rel,
          )}; put the file itself there (secrets are re-keyed by replacing the file)`,
        );
      }
      if (entry.isDirectory) await walk(rel);
      else if (entry.isFile) out.push(rel);
      else throw new Error(`Cannot work on ${SECRETS_DIR}/: ${rel} is not a regular file`);
    }
  }
  const top = await Deno.lstat(`${root}/${SECRETS_DIR}`).catch(() => undefined);
  if (top?.isSymlink) {
    throw new Error(`Cannot work on ${SECRETS_DIR}/: ${await describeLink(root, SECRETS_DIR)}`);
  }
  await walk(SECRETS_DIR);
  return out;
}

/** Host name → age recipient, from configurations/<host>/ssh_host_ed25519_key.pub. */
export async function readHostKeys(root: string): Promise<Map<string, string>> {
  const hosts = new Map<string, string>();
  let entries: Deno.DirEntry[] = [];
  try {
    entries = (await Array.fromAsync(Deno.readDir(`${root}/configurations`))).filter((e) =>
      e.isDirectory
    );
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = hostKeyPath(entry.name);
    const exists = await Deno.lstat(`${root}/${rel}`).then(() => true, () => false);
    if (!exists) continue; // e.g. an installer image: no host key, no anchor
    const problem = hostNameProblem(entry.name);
    if (problem !== undefined) {
      throw new Error(
        `Cannot use configurations/${entry.name}/: ${problem}; rename the folder`,
      );
    }
    try {
      hosts.set(entry.name, await ageRecipientFromSshPublicKeyFile(`${root}/${rel}`));
    } catch (error) {
      throw new Error((error as Error).message.replace(`${root}/`, ""));
    }
  }
  return hosts;
}

/** Reads `.sops.yaml`, the host keys and every file under secrets/ (metadata only). */
export async function readRepoState(
  root: string,
  options: { configText?: string; purpose?: string } = {},
): Promise<RepoState> {
  const text = options.configText ?? await readTextIfExists(`${root}/.sops.yaml`);
  if (text === undefined) {
    throw new Error(
      `Cannot ${
        options.purpose ?? "rekey"
      }: no .sops.yaml in ${root}; write one with an admin key (see README, Secrets)`,
    );
  }
  const config = parseSopsConfig(text, ".sops.yaml");
  const hostKeys = await readHostKeys(root);
  const paths = await listSecretFiles(root);
  const files = await Promise.all(paths.map(async (path) => {
    const content = await Deno.readTextFile(`${root}/${path}`).catch((error) => {
      throw new Error(`Cannot read ${path}: ${(error as Error).message}`);
    });
    return { path, metadata: readSopsMetadata(content) };
  }));
  return { config, hostKeys, files };
}
