// One changing run at a time: an exclusive flock on `.rekey.lock`, which also records who holds
// it (pid, start time, the command) and is deleted when the run ends. The kernel drops the lock
// when its holder dies, so the file a killed run leaves is seen as stale, never as "running":
// liveness is the flock itself, not the pid (Deno grants reads under /proc/<pid> only with
// every permission).

/** The lock file, relative to the repository root. */
export const LOCK_FILE = ".rekey.lock";

/** Who holds (or held) the lock. */
export interface LockInfo {
  pid: number;
  startedAt: string;
  command: string;
}

/** A held lock; dispose it to release. */
export interface HeldLock extends AsyncDisposable {
  /** The stale holder found and replaced, if any. */
  readonly stale: LockInfo | undefined;
}

function parseInfo(text: string): LockInfo | undefined {
  try {
    const info = JSON.parse(text) as LockInfo;
    return typeof info.pid === "number" ? info : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The running holder of the lock, if any, for read-only commands: a shared lock that cannot be
 * had means a changing run holds it. Taken and dropped at once.
 */
export async function runningHolder(root: string): Promise<LockInfo | undefined> {
  const path = `${root}/${LOCK_FILE}`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch {
    return undefined; // no lock file: no run
  }
  try {
    if (await file.tryLock(false)) {
      await file.unlock();
      return undefined;
    }
  } finally {
    file.close();
  }
  return parseInfo(await Deno.readTextFile(path).catch(() => "")) ??
    { pid: 0, startedAt: "?", command: "?" };
}

const ATTEMPTS = 5;
const ATTEMPT_GAP_MS = 20;

/** Takes the lock or throws at once naming the run that holds it. */
export async function acquireLock(root: string, command: string): Promise<HeldLock> {
  const path = `${root}/${LOCK_FILE}`;
  for (let round = 0; round < ATTEMPTS; round++) {
    const file = await Deno.open(path, {
      read: true,
      write: true,
      create: true,
      // Readable (read-only commands name the holder), never writable by others, whatever the umask.
      mode: 0o644,
    }).catch(
      (error) => {
        throw new Error(
          `Cannot lock ${LOCK_FILE} in ${root}: ${
            (error as Error).message
          }; a changing run needs to write the repository folder`,
        );
      },
    );
    try {
      // A read-only command may hold a shared lock for an instant: a few tries, 100 ms at most.
      let locked = false;
      for (let i = 0; i < ATTEMPTS && !locked; i++) {
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, ATTEMPT_GAP_MS));
        locked = await file.tryLock(true);
      }
      if (!locked) {
        const info = parseInfo(await Deno.readTextFile(path).catch(() => ""));
        throw new Error(
          info === undefined
            ? `Cannot start: another rekey is running (it holds ${LOCK_FILE}); wait for it to finish`
            : `Cannot start: another rekey (pid ${info.pid}, \`${info.command}\`, since ${info.startedAt}) is running; wait for it to finish`,
        );
      }
      // The holder before us deletes the file as it lets go: a lock on a deleted file is no lock.
      const onDisk = await Deno.stat(path).then((s) => s.ino, () => undefined);
      if (onDisk !== (await file.stat()).ino) {
        file.close();
        continue;
      }
    } catch (error) {
      file.close();
      throw error;
    }
    const previous = parseInfo(await Deno.readTextFile(path).catch(() => ""));
    const info: LockInfo = { pid: Deno.pid, startedAt: new Date().toISOString(), command };
    await file.truncate(0);
    await file.write(new TextEncoder().encode(`${JSON.stringify(info)}\n`));
    return {
      stale: previous,
      async [Symbol.asyncDispose]() {
        // Deleted while still locked, so the next run makes a new file and the tree is as it was.
        await Deno.remove(path).catch(() => {});
        await file.unlock().catch(() => {});
        file.close();
      },
    };
  }
  throw new Error(`Cannot start: ${LOCK_FILE} keeps changing under this run; try again`);
}
