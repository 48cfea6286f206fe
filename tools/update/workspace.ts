// Where updates are worked out: a copy of the repository's tracked files under .devops-update/,
// so a package file in the repository is only ever replaced whole, by its final content.
import { writeFileAtomic } from "../lib/fs.ts";
import type { Runner } from "../lib/runner.ts";

/** The folder (in the repository root, ignored by git) that holds the lock and work copies. */
export const STATE_DIR = ".devops-update";

/** A held lock; dispose it to release. */
export interface UpdateLock extends Disposable {
  readonly path: string;
}

/**
 * Takes the repository's update lock (flock, released by the kernel when the process ends, so
 * a killed run leaves no stale lock). Waits at most `waitMs`, then names the other run.
 */
export async function takeLock(root: string, what: string, waitMs = 2000): Promise<UpdateLock> {
  await Deno.mkdir(`${root}/${STATE_DIR}`, { recursive: true });
  // The folder ignores itself, so no run shows up in `git status`, whatever .gitignore says.
  await writeFileAtomic(`${root}/${STATE_DIR}/.gitignore`, "*\n");
  const path = `${root}/${STATE_DIR}/lock`;
  const file = await Deno.open(path, { create: true, write: true });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const gotIt = await Promise.race([
    file.lock(true).then(() => true),
    new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), waitMs)),
  ]);
  clearTimeout(timer);
  if (!gotIt) {
    // The pending lock call would keep the process alive; the caller exits after the error.
    throw new Error(
      `Cannot ${what}: another update run holds ${STATE_DIR}/lock in this repository; wait for it to finish`,
    );
  }
  return {
    path,
    [Symbol.dispose]() {
      try {
        file.unlockSync();
      } finally {
        file.close();
      }
    },
  };
}

/** A work copy of the repository. */
export interface Workspace extends AsyncDisposable {
  readonly dir: string;
  /** The flake reference of the copy (a `path:` flake: untracked files there are the copy's own). */
  readonly flake: string;
  /**
   * Replaces a file of the copy whole. The temporary file is made outside the copy: nix copies
   * the whole folder for each evaluation, and packages worked on at once write meanwhile.
   */
  write(relative: string, text: string): Promise<boolean>;
}

/** Removes work copies that an earlier, killed run left behind (call while holding the lock). */
export async function removeStaleWorkspaces(root: string): Promise<void> {
  try {
    for await (const entry of Deno.readDir(`${root}/${STATE_DIR}`)) {
      if (entry.name.startsWith("work-")) {
        await Deno.remove(`${root}/${STATE_DIR}/${entry.name}`, { recursive: true });
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/** Copies the tracked files (as they are in the working tree, like a flake sees them). */
export async function createWorkspace(runner: Runner, root: string): Promise<Workspace> {
  const listing = await runner.text({
    argv: ["git", "-C", root, "ls-files", "-z"],
    timeoutMs: 60_000,
  });
  const id = crypto.randomUUID().slice(0, 8);
  const dir = `${root}/${STATE_DIR}/work-${id}`;
  const staging = `${root}/${STATE_DIR}/work-${id}.staging`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.mkdir(staging, { recursive: true });
  const made = new Set<string>();
  // Copies, never hard links: nix writes flake.lock in place, which through a link would change
  // the repository's own file. Synchronous calls: many small files go several times faster
  // than with one promise each.
  for (const relative of listing.split("\0").filter((p) => p !== "")) {
    const from = `${root}/${relative}`;
    const to = `${dir}/${relative}`;
    let info: Deno.FileInfo;
    try {
      info = Deno.lstatSync(from);
    } catch {
      continue; // deleted in the working tree
    }
    if (info.isDirectory) continue; // a submodule
    const slash = relative.lastIndexOf("/");
    const folder = slash >= 0 ? `${dir}/${relative.slice(0, slash)}` : dir;
    if (!made.has(folder)) {
      Deno.mkdirSync(folder, { recursive: true });
      made.add(folder);
    }
    if (info.isSymlink) Deno.symlinkSync(Deno.readLinkSync(from), to);
    else Deno.copyFileSync(from, to);
  }
  return {
    dir,
    flake: `path:${dir}`,
    write: (relative, text) => writeFileAtomic(`${dir}/${relative}`, text, { tempDir: staging }),
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
      await Deno.remove(staging, { recursive: true }).catch(() => {});
    },
  };
}
