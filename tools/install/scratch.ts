// The install's private scratch folder on tmpfs (disk passphrases, a copy of the host key) and
// the child process it runs, both cleaned up whatever happens: normal end, error, Ctrl-C.

/**
 * Where the scratch folder may live: the user's runtime folder, a tmpfs that only they can enter,
 * so a passphrase never reaches a disk. (/dev/shm would do too, but Deno grants paths under /dev
 * only with --allow-all.)
 */
export function scratchParents(
  env: { XDG_RUNTIME_DIR?: string | undefined },
  uid: number | null,
): string[] {
  const candidates = [
    ...(env.XDG_RUNTIME_DIR ? [env.XDG_RUNTIME_DIR] : []),
    ...(uid === null ? [] : [`/run/user/${uid}`]),
  ];
  return [...new Set(candidates)];
}

/**
 * Why `parent` may not hold the passphrases, if it may not: a relative path (the XDG spec says
 * to ignore one; here it would mean the repository) or a folder inside the repository `root`
 * (a careless `git add -A` would commit them), symlinks resolved.
 */
export function scratchParentProblem(parent: string, root: string): string | undefined {
  if (!parent.startsWith("/")) return "not an absolute path";
  const real = (path: string) => {
    try {
      return Deno.realPathSync(path);
    } catch {
      return path;
    }
  };
  const [dir, repo] = [real(parent), real(root)];
  if (dir === repo || dir.startsWith(`${repo}/`)) return "inside the repository";
  return undefined;
}

const PREFIX = "devops-install-";

/** The file in each scratch folder its install keeps flocked while it lives. */
const ALIVE = ".alive";

/**
 * Removes the scratch folders of installs that were killed (SIGKILL, a crash), which no signal
 * handler could clean: their passphrases and key copy must not outlive them. A live install
 * holds a lock on the folder's `.alive` file (the kernel drops it when the process ends, however
 * it ends), so a folder whose lock can be taken is a dead one's. (Deno grants /proc only with
 * --allow-all, so pids cannot be checked.) A folder without `.alive` is being made: kept.
 */
export async function removeStale(parents: readonly string[]): Promise<string[]> {
  const removed: string[] = [];
  for (const parent of parents) {
    let entries: Deno.DirEntry[];
    try {
      entries = await Array.fromAsync(Deno.readDir(parent));
    } catch {
      continue;
    }
    for (const entry of entries) {
      if (!entry.isDirectory || !entry.name.startsWith(PREFIX)) continue;
      const dir = `${parent}/${entry.name}`;
      let alive: Deno.FsFile;
      try {
        alive = await Deno.open(`${dir}/${ALIVE}`, { read: true });
      } catch {
        continue;
      }
      try {
        if (!await alive.tryLock(true)) continue;
        await Deno.remove(dir, { recursive: true }).catch(() => {});
        removed.push(dir);
      } finally {
        alive.close();
      }
    }
  }
  return removed;
}

/** The scratch folder and the running child; {@linkcode Scratch.removeNow} is signal-safe. */
export class Scratch {
  #dir: string | undefined;
  #child: Deno.ChildProcess | undefined;
  // Open for the life of the process: closing it would release the lock.
  #lock: Deno.FsFile | undefined;
  #alive: Deno.FsFile | undefined;
  constructor(readonly parents: readonly string[], readonly root?: string) {}

  /** The folder (made 0700 on first use, after removing those of killed installs). */
  async dir(): Promise<string> {
    if (this.#dir !== undefined) return this.#dir;
    await removeStale(
      this.parents.filter((p) =>
        this.root === undefined || scratchParentProblem(p, this.root) === undefined
      ),
    );
    const problems: string[] = [];
    for (const parent of this.parents) {
      const unfit = this.root === undefined ? undefined : scratchParentProblem(parent, this.root);
      if (unfit !== undefined) {
        problems.push(`${parent}: ${unfit}`);
        continue;
      }
      try {
        const dir = await Deno.makeTempDir({ dir: parent, prefix: PREFIX });
        await Deno.chmod(dir, 0o700);
        // Locked before anything secret is written, open until the process ends.
        const alive = await Deno.open(`${dir}/${ALIVE}`, {
          create: true,
          write: true,
          mode: 0o600,
        });
        await alive.lock(true);
        this.#alive = alive;
        this.#dir = dir;
        return dir;
      } catch (error) {
        problems.push(`${parent}: ${(error as Error).message}`);
      }
    }
    throw new Error(
      `Cannot make a private folder on tmpfs for the disk passphrases (${
        problems.join("; ")
      }); set XDG_RUNTIME_DIR to a tmpfs folder you own`,
    );
  }

  /**
   * Takes this machine's lock for installing `host` (flock on a file next to the scratch
   * folders), held until the process ends, however it ends: two installs of one host would
   * partition the same disks and re-key the same secrets at once.
   */
  async lockHost(host: string): Promise<void> {
    const problems: string[] = [];
    for (const parent of this.parents) {
      const unfit = this.root === undefined ? undefined : scratchParentProblem(parent, this.root);
      if (unfit !== undefined) {
        problems.push(`${parent}: ${unfit}`);
        continue;
      }
      let file: Deno.FsFile;
      try {
        file = await Deno.open(`${parent}/devops-install.${host}.lock`, {
          create: true,
          write: true,
          mode: 0o600,
        });
      } catch (error) {
        problems.push(`${parent}: ${(error as Error).message}`);
        continue;
      }
      if (!await file.tryLock(true)) {
        file.close();
        throw new Error(
          `Cannot install host "${host}": another install of it is running; wait for it to end`,
        );
      }
      this.#lock = file;
      return;
    }
    throw new Error(
      `Cannot make a private folder on tmpfs for the disk passphrases (${
        problems.join("; ")
      }); set XDG_RUNTIME_DIR to a tmpfs folder you own`,
    );
  }

  /** The folder if it was made. */
  get made(): string | undefined {
    return this.#dir;
  }

  /** Remembers the running child so an interrupt can stop it. */
  set child(child: Deno.ChildProcess | undefined) {
    this.#child = child;
  }

  /** Stops the child (SIGTERM) and removes the folder, synchronously. */
  removeNow(): void {
    try {
      this.#child?.kill("SIGTERM");
    } catch {
      // already gone
    }
    if (this.#dir !== undefined) {
      try {
        Deno.removeSync(this.#dir, { recursive: true });
        this.#alive?.close();
        this.#alive = undefined;
      } catch (error) {
        if (!(error instanceof Deno.errors.NotFound)) throw error;
      }
      this.#dir = undefined;
    }
  }
}
