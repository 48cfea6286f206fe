// The install's private scratch folder on tmpfs (disk passphrases, a copy of the host key) and
// the child process it runs, both cleaned up whatever happens: normal end, error, Ctrl-C.
import { CommandError } from "../lib/errors.ts";
import { createProcessRunner } from "../lib/process_runner.ts";
import {
  describeStop,
  type GroupRecord,
  recordedGroupRuns,
  startTime,
  stopGroup,
  type StopOutcome,
} from "./process_group.ts";

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

/** statfs magic numbers (`stat -f -c %t`) of the filesystems that never write to a disk. */
const MEMORY_FILESYSTEMS = new Map([["1021994", "tmpfs"], ["858458f6", "ramfs"]]);

/**
 * Why `parent` may not hold the passphrases and the private host key, if it may not, from the
 * filesystem it is on (statfs, through `stat -f`; Deno has no statfs, and grants /proc only with
 * --allow-all): only tmpfs and ramfs keep files in memory. A folder on a disk keeps them after a
 * `kill -9` or a power cut, and in its free blocks after they are removed.
 */
export async function memoryFilesystemProblem(parent: string): Promise<string | undefined> {
  let stdout: string;
  try {
    stdout = await createProcessRunner().text({
      argv: ["stat", "--file-system", "--format=%t %T", "--", parent],
    });
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    if (error.code === 127) return `cannot tell its filesystem (stat: ${error.stderrTail})`;
    return error.stderrTail.split("\n").at(-1)?.replace(/^\S*stat: /, "") ||
      `stat -f failed with exit code ${error.code}`;
  }
  const [magic = "", ...name] = stdout.trim().split(" ");
  if (MEMORY_FILESYSTEMS.has(magic)) return undefined;
  return `on ${
    name.join(" ") || `filesystem 0x${magic}`
  }, not tmpfs: a disk would keep what is written there`;
}

const PREFIX = "devops-install-";

/** The file in each scratch folder its install keeps flocked while it lives. */
const ALIVE = ".alive";

/** The file in each scratch folder that names the process group of its nixos-anywhere. */
const GROUP_RECORD = ".group.json";

/** What {@linkcode removeStale} did with an orphaned nixos-anywhere of the host being installed. */
export interface OrphanStop {
  pgid: number;
  outcome: StopOutcome;
}

async function readGroupRecord(dir: string): Promise<GroupRecord | undefined> {
  try {
    return JSON.parse(await Deno.readTextFile(`${dir}/${GROUP_RECORD}`)) as GroupRecord;
  } catch {
    return undefined;
  }
}

/**
 * Removes the scratch folders of installs that were killed (SIGKILL, a crash), which no signal
 * handler could clean: their passphrases and key copy must not outlive them. A live install
 * holds a lock on the folder's `.alive` file (the kernel drops it when the process ends, however
 * it ends), so a folder whose lock can be taken is a dead one's. (Deno grants /proc only with
 * --allow-all, so pids cannot be checked.) A folder without `.alive` is being made: kept.
 *
 * The nixos-anywhere a killed install started runs on (its own process group, recorded in the
 * folder) and still reads the folder's key files: a folder whose group runs is an install still
 * going on. If it installs `host`, the install being started now would wipe the same disks: its
 * group is stopped first (`stopped` is told), then the folder removed; another host's is kept.
 */
export async function removeStale(
  parents: readonly string[],
  options: { host?: string; stopped?: (stop: OrphanStop) => void } = {},
): Promise<string[]> {
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
        const group = await readGroupRecord(dir);
        if (group !== undefined && await recordedGroupRuns(group)) {
          if (group.host !== options.host) continue;
          const outcome = await stopGroup(group.pgid);
          options.stopped?.({ pgid: group.pgid, outcome });
          if (outcome.kind === "still-running") {
            throw new Error(
              `Cannot install host "${group.host}": the nixos-anywhere of an earlier install of it, killed before it ended, still runs (process group ${group.pgid}): ${
                describeStop(outcome)
              }; stop them (kill -KILL -- -${group.pgid}), then run again`,
            );
          }
        }
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
  #child: { readonly pid: number } | undefined;
  // Open for the life of the process: closing it would release the lock.
  #lock: Deno.FsFile | undefined;
  #alive: Deno.FsFile | undefined;
  #host: string | undefined;
  #stopping: Promise<StopOutcome> | undefined;
  /** Told when an orphaned nixos-anywhere of the host was stopped (for a log line). */
  onOrphanStopped: ((stop: OrphanStop) => void) | undefined;
  constructor(readonly parents: readonly string[], readonly root?: string) {}

  /** Why `parent` may not hold the secrets, if it may not: where it is, then its filesystem. */
  async #unfit(parent: string): Promise<string | undefined> {
    return (this.root === undefined ? undefined : scratchParentProblem(parent, this.root)) ??
      await memoryFilesystemProblem(parent);
  }

  async #fitParents(): Promise<string[]> {
    const fit: string[] = [];
    for (const parent of this.parents) {
      if (await this.#unfit(parent) === undefined) fit.push(parent);
    }
    return fit;
  }

  async #removeStale(): Promise<string[]> {
    return await removeStale(await this.#fitParents(), {
      ...(this.#host === undefined ? {} : { host: this.#host }),
      stopped: (stop) => this.onOrphanStopped?.(stop),
    });
  }

  /** The folder (made 0700 on first use, after removing those of killed installs). */
  async dir(): Promise<string> {
    if (this.#dir !== undefined) return this.#dir;
    await this.#removeStale();
    const problems: string[] = [];
    for (const parent of this.parents) {
      const unfit = await this.#unfit(parent);
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
      const unfit = await this.#unfit(parent);
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
      this.#host = host;
      // A killed install of this host may have left its nixos-anywhere running: stopped now,
      // before anything is re-keyed, written or wiped.
      await this.#removeStale();
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

  /**
   * Remembers nixos-anywhere, the leader of its own process group, so an interrupt can stop the
   * whole group, and records the group in the folder so a later install finds it if this one is
   * killed.
   */
  async started(child: { readonly pid: number }): Promise<void> {
    this.#child = child;
    this.#stopping = undefined;
    const started = await startTime(child.pid);
    if (this.#dir === undefined || this.#host === undefined || started === undefined) return;
    const record: GroupRecord = { host: this.#host, pgid: child.pid, started };
    const file = `${this.#dir}/${GROUP_RECORD}`;
    await Deno.writeTextFile(`${file}.tmp`, JSON.stringify(record), { mode: 0o600 });
    await Deno.rename(`${file}.tmp`, file);
  }

  /** Forgets the child once its whole group has ended. */
  ended(): void {
    this.#child = undefined;
  }

  /** Whether a stop of the running child's group has begun (a timeout or a signal). */
  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  /** Stops the running child's whole group (once, however often asked); undefined if none. */
  stopChild(): Promise<StopOutcome> | undefined {
    if (this.#child === undefined) return undefined;
    this.#stopping ??= stopGroup(this.#child.pid);
    return this.#stopping;
  }

  /** Removes the folder, synchronously (stop the child first: {@linkcode Scratch.stopChild}). */
  removeNow(): void {
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
