// The journal that makes a changing run all-or-nothing and safe to kill. Before the first
// change: an encrypted backup of every file the run will touch and `journal.json` with each
// file's SHA-256 before the run. Before each file is renamed into place: a line in `done.log`
// with the hash of what the run wrote. Recovery compares every file with both hashes, so a
// file changed after a kill (an edit, a pull) is never overwritten.
import { hex } from "@scure/base";
import { writeFileAtomic } from "../fs.ts";

/** The folder that holds a running rekey's backups, journal and work copies. */
export const JOURNAL_DIR = ".rekey-journal";

/** One file a run changes. */
export interface JournalEntry {
  path: string;
  /**
   * `rekey`: a file a later run can bring in step by itself; `write`: content only this run
   * knows (`.sops.yaml`, a host key, a new file), so the run cannot be finished without it.
   */
  kind: "write" | "rekey";
  /** SHA-256 before the run, or null when the run creates the file. */
  before: string | null;
}

/** What `journal.json` holds. */
export interface Journal {
  version: 2;
  command: string;
  startedAt: string;
  pid: number;
  entries: JournalEntry[];
}

/** The output recorded for a file the run deletes. */
export const ABSENT = "absent";

/** SHA-256 of bytes, hex. */
export async function sha256(bytes: Uint8Array): Promise<string> {
  return hex.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes as BufferSource)));
}

/** SHA-256 of a file, or null when it does not exist. */
export async function hashFile(path: string): Promise<string | null> {
  try {
    return await sha256(await Deno.readFile(path));
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/**
 * Creates the folders of `rel` under `base` that are missing, each with `mode` whatever the
 * umask (a folder made by Deno.mkdir gets `mode & ~umask`, and umask 000 adds nothing back).
 * `private` folders (the run's own) get the mode even when they exist: chmod fails on a
 * folder another user owns, so a folder planted by someone else stops the run.
 */
export async function makeDirs(
  base: string,
  rel: string,
  options: { mode: number; private: boolean },
): Promise<void> {
  let path = base;
  for (const part of rel.split("/").filter(Boolean)) {
    path += `/${part}`;
    let created = true;
    try {
      await Deno.mkdir(path, { mode: options.mode });
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      created = false;
      const info = await Deno.lstat(path);
      if (!info.isDirectory) throw new Error(`Cannot use ${path}: it is not a folder`);
    }
    if (created || options.private) await Deno.chmod(path, options.mode);
  }
}

/** Makes the run's own folder `rel` under the journal folder: 0700, whatever the umask. */
export async function makePrivateDir(root: string, rel: string): Promise<void> {
  await makeDirs(root, `${JOURNAL_DIR}/${rel}`, { mode: 0o700, private: true });
}

/** Writes a file of the run's own: created 0600 (and set so), whatever the umask. */
export async function writePrivateFile(path: string, bytes: Uint8Array | string): Promise<void> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  await Deno.writeFile(path, data, { mode: 0o600 });
  await Deno.chmod(path, 0o600);
}

function parentOf(path: string): string {
  return path.replace(/\/?[^/]+$/, "");
}

async function copyInto(root: string, path: string): Promise<void> {
  await makePrivateDir(root, `backup/${parentOf(path)}`);
  await writePrivateFile(
    `${root}/${JOURNAL_DIR}/backup/${path}`,
    await Deno.readFile(`${root}/${path}`),
  );
}

/** Writes backups then `journal.json` (in that order: no journal means nothing changed yet). */
export async function startJournal(
  root: string,
  command: string,
  files: readonly { path: string; kind: JournalEntry["kind"] }[],
): Promise<Journal> {
  const dir = `${root}/${JOURNAL_DIR}`;
  await makePrivateDir(root, "backup");
  const entries: JournalEntry[] = [];
  for (const { path, kind } of files) {
    const before = await hashFile(`${root}/${path}`);
    if (before !== null) await copyInto(root, path);
    entries.push({ path, kind, before });
  }
  const journal: Journal = {
    version: 2,
    command,
    startedAt: new Date().toISOString(),
    pid: Deno.pid,
    entries,
  };
  await writeFileAtomic(`${dir}/journal.json`, `${JSON.stringify(journal, null, 2)}\n`, {
    mode: 0o600,
  });
  return journal;
}

/** Records the hash of what the run is about to rename over `path`. */
export async function recordOutput(root: string, path: string, hash: string): Promise<void> {
  await Deno.writeTextFile(
    `${root}/${JOURNAL_DIR}/done.log`,
    `${JSON.stringify({ path, after: hash })}\n`,
    { append: true, mode: 0o600 },
  );
}

/** Where one journaled file stands now. */
export type FileState = "before" | "after" | "changed";

/** What recovery found. */
export interface JournalReport {
  journal: Journal;
  states: { path: string; state: FileState }[];
}

/** Reads an unfinished run's journal and compares each file; undefined when there is none. */
export async function inspectJournal(root: string): Promise<JournalReport | "partial" | undefined> {
  const dir = `${root}/${JOURNAL_DIR}`;
  if (!await Deno.lstat(dir).then(() => true, () => false)) return undefined;
  let text: string;
  try {
    text = await Deno.readTextFile(`${dir}/journal.json`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "partial";
    throw error;
  }
  const journal = JSON.parse(text) as Journal;
  if (journal.version !== 2) {
    throw new Error(
      `Cannot read ${JOURNAL_DIR}/journal.json: version ${journal.version} from an older tool; restore the files from git and delete ${JOURNAL_DIR}/`,
    );
  }
  const after = new Map<string, Set<string>>();
  const log = await Deno.readTextFile(`${dir}/done.log`).catch(() => "");
  for (const line of log.split("\n")) {
    try {
      const record = JSON.parse(line) as { path: string; after: string };
      if (!after.has(record.path)) after.set(record.path, new Set());
      after.get(record.path)!.add(record.after);
    } catch {
      // a line cut short by the kill: its file was not renamed yet
    }
  }
  const states = await Promise.all(journal.entries.map(async (entry) => {
    const now = await hashFile(`${root}/${entry.path}`);
    const state: FileState = now === entry.before
      ? "before"
      : after.get(entry.path)?.has(now ?? ABSENT)
      ? "after"
      : "changed";
    return { path: entry.path, state };
  }));
  return { journal, states };
}

/**
 * Puts every file the run changed back as it was, keeps every file changed since, and deletes
 * the journal. Returns the paths restored and the paths kept.
 */
export async function rollBack(
  root: string,
  report: JournalReport,
): Promise<{ restored: string[]; kept: string[] }> {
  const dir = `${root}/${JOURNAL_DIR}`;
  const restored: string[] = [];
  const kept: string[] = [];
  for (const { path, state } of report.states) {
    if (state === "changed") kept.push(path);
    if (state !== "after") continue;
    const entry = report.journal.entries.find((e) => e.path === path)!;
    if (entry.before === null) {
      await Deno.remove(`${root}/${path}`);
      await removeEmptyParents(root, path);
    } else {
      // By rename: atomic, and it needs no free space (a full disk is a reason to roll back).
      const backup = `${dir}/backup/${path}`;
      // A file the run deleted (a `remove` step) is back with the mode git gives it.
      const mode = await Deno.stat(`${root}/${path}`).then((s) => s.mode, () => 0o644);
      if (mode !== null) await Deno.chmod(backup, mode & 0o7777);
      await Deno.rename(backup, `${root}/${path}`);
    }
    restored.push(path);
  }
  await Deno.remove(dir, { recursive: true });
  return { restored, kept };
}

/** Removes the folders a created file needed, while they are empty (the tree as it was). */
async function removeEmptyParents(root: string, path: string): Promise<void> {
  const parts = path.split("/").slice(0, -1);
  while (parts.length > 0) {
    try {
      await Deno.remove(`${root}/${parts.join("/")}`); // fails on a folder that holds anything
    } catch {
      return;
    }
    parts.pop();
  }
}

/** Deletes a finished or empty journal: journal.json first, so a kill here leaves no half-journal. */
export async function dropJournal(root: string): Promise<void> {
  const ignoreMissing = (error: unknown) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  };
  await Deno.remove(`${root}/${JOURNAL_DIR}/journal.json`).catch(ignoreMissing);
  await Deno.remove(`${root}/${JOURNAL_DIR}`, { recursive: true }).catch(ignoreMissing);
}
