// Reading the repository's secrets state and carrying out a rekey plan with a journal.
import { readTextIfExists, writeFileAtomic } from "../lib/fs.ts";
import { mapPool } from "../lib/pool.ts";
import type { Runner } from "../lib/runner.ts";
import { oneLineMessage } from "../lib/errors.ts";
import { ageRecipientFromSshPublicKeyFile } from "./age_keys.ts";
import type { FileAction, RekeyPlan, SecretFile } from "./plan.ts";
import { parseSopsConfig, type SopsConfig } from "./sops_yaml.ts";
import { readSopsRecipients } from "./sops_metadata.ts";
import { userPath } from "../lib/repo.ts";

/** The folder that holds a running rekey's backups and journal. */
export const JOURNAL_DIR = ".rekey-journal";

/** What rekey reads from the repository. */
export interface RepoState {
  config: SopsConfig;
  hostKeys: Map<string, string>;
  files: SecretFile[];
}

async function listFiles(root: string, dir: string): Promise<string[]> {
  const out: string[] = [];
  let entries: Deno.DirEntry[];
  try {
    entries = [...Deno.readDirSync(`${root}/${dir}`)];
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory) out.push(...await listFiles(root, rel));
    else if (entry.isFile || entry.isSymlink) out.push(rel);
  }
  return out;
}

/** Host name → age recipient, from configurations/<host>/ssh_host_ed25519_key.pub. */
export async function readHostKeys(root: string): Promise<Map<string, string>> {
  const hosts = new Map<string, string>();
  let entries: Deno.DirEntry[] = [];
  try {
    entries = [...Deno.readDirSync(`${root}/configurations`)].filter((e) => e.isDirectory);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    const rel = `configurations/${entry.name}/ssh_host_ed25519_key.pub`;
    const exists = await Deno.stat(`${root}/${rel}`).then(() => true, () => false);
    if (!exists) continue; // e.g. an installer image: no host key, no anchor
    try {
      hosts.set(entry.name, await ageRecipientFromSshPublicKeyFile(`${root}/${rel}`));
    } catch (error) {
      throw new Error((error as Error).message.replace(`${root}/`, ""));
    }
  }
  return hosts;
}

/** Reads `.sops.yaml`, the host keys and every file under secrets/ (metadata only). */
export async function readRepoState(root: string, configText?: string): Promise<RepoState> {
  const text = configText ?? await readTextIfExists(`${root}/.sops.yaml`);
  if (text === undefined) throw new Error(`Cannot rekey: no .sops.yaml in ${root}`);
  const config = parseSopsConfig(text, ".sops.yaml");
  const hostKeys = await readHostKeys(root);
  const paths = await listFiles(root, "secrets");
  const files = await Promise.all(paths.map(async (path) => {
    const content = await Deno.readTextFile(`${root}/${path}`).catch(() => "");
    return { path, recipients: readSopsRecipients(content, path) };
  }));
  return { config, hostKeys, files };
}

/** One file's outcome. */
export interface FileResult {
  path: string;
  added: string[];
  removed: string[];
  rotated: boolean;
  status: "updated" | "would-update" | "failed" | "restored";
  error?: string;
}

/** Options for {@linkcode executeRekey}. */
export interface ExecuteOptions {
  runner: Runner;
  parallel: number;
}

/** The journal a run writes before it changes anything. */
export interface Journal {
  version: 1;
  startedAt: string;
  /** The `.sops.yaml` the run was writing. */
  targetConfig: string;
  /** Files with an encrypted backup under backup/ (paths relative to the root). */
  files: string[];
}

/**
 * Makes a relative SOPS_AGE_KEY_FILE absolute, from the folder the user ran the command in:
 * sops runs in work folders, where a relative path would name no file.
 */
export function pinSopsKeyFile(): void {
  const keyFile = Deno.env.get("SOPS_AGE_KEY_FILE");
  if (keyFile && !keyFile.startsWith("/")) Deno.env.set("SOPS_AGE_KEY_FILE", userPath(keyFile));
}

function decryptCheck(runner: Runner, root: string, path: string) {
  // stdout is captured in memory and dropped: nothing decrypted reaches the disk.
  return runner.run({ argv: ["sops", "decrypt", path], cwd: root });
}

/** Stops with the files the operator's identity cannot decrypt; changes nothing. */
export async function checkDecryptable(
  runner: Runner,
  root: string,
  paths: readonly string[],
  parallel: number,
): Promise<void> {
  const results = await mapPool(paths, parallel, (p) => decryptCheck(runner, root, p));
  const failed = paths.filter((_, i) => !results[i]!.ok);
  if (failed.length > 0) {
    const keyFile = Deno.env.get("SOPS_AGE_KEY_FILE") ?? "~/.config/sops/age/keys.txt";
    throw new Error(
      `Cannot rekey: your identity (${keyFile}) cannot decrypt ${
        failed.join(", ")
      }; nothing was changed`,
    );
  }
}

async function copyInto(from: string, to: string): Promise<void> {
  await Deno.mkdir(to.replace(/\/[^/]+$/, ""), { recursive: true });
  await Deno.copyFile(from, to);
}

/** Restores from an unfinished run's journal; `abort` also restores the original `.sops.yaml`. */
export async function recoverJournal(
  root: string,
  options: { abort: boolean; log: (line: string) => void },
): Promise<boolean> {
  const dir = `${root}/${JOURNAL_DIR}`;
  const text = await readTextIfExists(`${dir}/journal.json`);
  const exists = await Deno.stat(dir).then(() => true, () => false);
  if (!exists) return false;
  if (text === undefined) {
    // Killed while writing backups: nothing had been changed yet.
    await Deno.remove(dir, { recursive: true });
    return false;
  }
  const journal = JSON.parse(text) as Journal;
  for (const path of journal.files) {
    await writeFileAtomic(`${root}/${path}`, await Deno.readFile(`${dir}/backup/${path}`));
  }
  const config = options.abort
    ? await Deno.readFile(`${dir}/backup/.sops.yaml`)
    : new TextEncoder().encode(journal.targetConfig);
  await writeFileAtomic(`${root}/.sops.yaml`, config);
  await Deno.remove(dir, { recursive: true });
  options.log(
    `Found an unfinished rekey from ${journal.startedAt}: restored ${journal.files.length} encrypted file(s)${
      options.abort ? " and .sops.yaml" : "; finishing it"
    }`,
  );
  return true;
}

async function restore(root: string, journal: Journal): Promise<void> {
  const dir = `${root}/${JOURNAL_DIR}`;
  for (const path of journal.files) {
    await writeFileAtomic(`${root}/${path}`, await Deno.readFile(`${dir}/backup/${path}`));
  }
  await writeFileAtomic(`${root}/.sops.yaml`, await Deno.readFile(`${dir}/backup/.sops.yaml`));
  await Deno.remove(dir, { recursive: true });
}

function resultFor(action: FileAction, status: FileResult["status"], error?: string): FileResult {
  return {
    path: action.path,
    added: action.added,
    removed: action.removed,
    rotated: action.rotate && status === "updated",
    status,
    ...(error === undefined ? {} : { error }),
  };
}

/**
 * Writes the new `.sops.yaml` and re-keys every file that needs it, each in a work copy that
 * replaces the original by rename. On any failure everything is restored and an Error thrown.
 */
export async function executeRekey(
  root: string,
  plan: RekeyPlan,
  options: ExecuteOptions,
): Promise<FileResult[]> {
  const { runner } = options;
  const work = plan.files.filter((f) => f.update);
  if (work.length === 0 && !plan.configChanged) return [];
  await checkDecryptable(runner, root, work.map((f) => f.path), options.parallel);
  if (runner.dryRun) {
    for (const f of work) {
      runner.log(
        `would run: ${f.rotate ? `sops rotate -i ${f.path} && ` : ""}sops updatekeys -y ${f.path}`,
      );
    }
    return work.map((f) => resultFor(f, "would-update"));
  }

  const dir = `${root}/${JOURNAL_DIR}`;
  await Deno.mkdir(`${dir}/backup`, { recursive: true });
  await Deno.copyFile(`${root}/.sops.yaml`, `${dir}/backup/.sops.yaml`);
  for (const f of work) await copyInto(`${root}/${f.path}`, `${dir}/backup/${f.path}`);
  const journal: Journal = {
    version: 1,
    startedAt: new Date().toISOString(),
    targetConfig: plan.configText,
    files: work.map((f) => f.path),
  };
  await writeFileAtomic(`${dir}/journal.json`, JSON.stringify(journal, null, 2));
  await writeFileAtomic(`${root}/.sops.yaml`, plan.configText);
  // sops finds .sops.yaml by walking up from its working directory: the work copy has its own.
  const workDir = `${dir}/work`;
  await Deno.mkdir(workDir, { recursive: true });
  await Deno.writeTextFile(`${workDir}/.sops.yaml`, plan.configText);

  const killAfter = Number(Deno.env.get("REKEY_TEST_KILL_AFTER_FILES") ?? "0");
  let done = 0;
  const results = await mapPool(work, options.parallel, async (f) => {
    const copy = `${workDir}/${f.path}`;
    await copyInto(`${root}/${f.path}`, copy);
    // Rotate first, while the operator is still a recipient (they may be the one removed): the
    // new data key is then re-wrapped for exactly the wanted recipients. The in-between copy
    // never leaves the work folder.
    if (f.rotate) await runner.run({ argv: ["sops", "rotate", "-i", f.path], cwd: workDir });
    await runner.run({ argv: ["sops", "updatekeys", "-y", f.path], cwd: workDir });
    const mode = (await Deno.stat(`${root}/${f.path}`)).mode;
    if (mode !== null) await Deno.chmod(copy, mode & 0o7777);
    try {
      await Deno.rename(copy, `${root}/${f.path}`);
    } catch (error) {
      throw new Error(`cannot replace ${f.path}: ${oneLineMessage(error)}`);
    }
    done++;
    if (killAfter > 0 && done >= killAfter) Deno.kill(Deno.pid, "SIGKILL"); // tests only
  }, { stopOnError: true });

  const failedIndex = results.findIndex((r) => !r.ok && !("skipped" in r));
  if (failedIndex >= 0) {
    const failed = results[failedIndex] as { ok: false; error: unknown };
    await restore(root, journal);
    const path = work[failedIndex]!.path;
    throw new Error(
      `Cannot rekey ${path}: ${
        oneLineMessage(failed.error)
      }; restored .sops.yaml and ${work.length} file(s) from their encrypted backups`,
    );
  }
  await Deno.remove(dir, { recursive: true });
  return work.map((f) => resultFor(f, "updated"));
}
