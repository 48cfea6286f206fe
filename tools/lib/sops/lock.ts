// One changing run at a time: an exclusive flock on `.rekey.lock`, which also records who holds
// it (pid, the process's start time, the command). The kernel drops the lock when its holder
// dies, so a lock left by a killed run is seen as stale, never as "running".

/** The lock file, relative to the repository root. */
export const LOCK_FILE = ".rekey.lock";

/** Who holds (or held) the lock. */
export interface LockInfo {
  pid: number;
  /** The holder's start time in clock ticks since boot (/proc/<pid>/stat): tells a reused pid. */
  processStart: string;
  startedAt: string;
  command: string;
}

/** A held lock; dispose it to release. */
export interface HeldLock extends AsyncDisposable {
  /** The stale holder found and replaced, if any. */
  readonly stale: LockInfo | undefined;
}

async function processStart(pid: number): Promise<string | undefined> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => undefined);
  // Field 22; the command name in field 2 may hold spaces and parentheses.
  return stat?.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
}

function parseInfo(text: string): LockInfo | undefined {
  try {
    const info = JSON.parse(text) as LockInfo;
    return typeof info.pid === "number" ? info : undefined;
  } catch {
    return undefined;
  }
}

/** True when the process the lock names still runs (same pid and start time). */
export async function isAlive(info: LockInfo): Promise<boolean> {
  return (await processStart(info.pid)) === info.processStart;
}

/** The running holder of the lock, if any, without taking it (for read-only commands). */
export async function runningHolder(root: string): Promise<LockInfo | undefined> {
  const text = await Deno.readTextFile(`${root}/${LOCK_FILE}`).catch(() => "");
  const info = parseInfo(text);
  return info !== undefined && await isAlive(info) ? info : undefined;
}

/** Takes the lock or throws at once naming the run that holds it. */
export async function acquireLock(root: string, command: string): Promise<HeldLock> {
  const path = `${root}/${LOCK_FILE}`;
  const file = await Deno.open(path, { read: true, write: true, create: true });
  try {
    if (!await file.tryLock(true)) {
      const info = parseInfo(await Deno.readTextFile(path).catch(() => ""));
      throw new Error(
        info === undefined
          ? `Cannot start: another rekey is running (it holds ${LOCK_FILE}); wait for it to finish`
          : `Cannot start: another rekey (pid ${info.pid}, \`${info.command}\`, since ${info.startedAt}) is running; wait for it to finish`,
      );
    }
  } catch (error) {
    file.close();
    throw error;
  }
  const previous = parseInfo(await Deno.readTextFile(path).catch(() => ""));
  const info: LockInfo = {
    pid: Deno.pid,
    processStart: (await processStart(Deno.pid)) ?? "",
    startedAt: new Date().toISOString(),
    command,
  };
  await file.truncate(0);
  await file.write(new TextEncoder().encode(`${JSON.stringify(info)}\n`));
  return {
    stale: previous,
    async [Symbol.asyncDispose]() {
      // Emptied, not deleted: deleting would let a third run lock a new file while a second
      // one still waits on the old one.
      await file.truncate(0).catch(() => {});
      await file.unlock().catch(() => {});
      file.close();
    },
  };
}
