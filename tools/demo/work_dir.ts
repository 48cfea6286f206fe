// The demo's work folder (/tmp/devops-demo-*): it names its owner process, so a later demo
// removes the folder of one that was killed (SIGKILL gives no chance to clean up).
import { writeFileAtomic } from "../lib/fs.ts";

/** Prefix of every demo work folder under the temp folder. */
export const WORK_DIR_PREFIX = "devops-demo-";
const OWNER_FILE = "owner";

/** When process `pid` started (clock ticks since boot), or undefined when there is none. */
export async function processStartTime(pid: number): Promise<string | undefined> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => undefined);
  if (stat === undefined) return undefined;
  // Field 22; the fields after the command name (which may hold spaces) start at field 3.
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
}

/**
 * Makes a work folder owned by this process under `tempDir`. The owner file is written
 * atomically: a demo reaping folders at the same moment never reads half of it.
 */
export async function createWorkDir(tempDir: string): Promise<string> {
  const made = await Deno.makeTempDir({ dir: tempDir, prefix: WORK_DIR_PREFIX });
  const dir = await Deno.realPath(made);
  await writeFileAtomic(
    `${dir}/${OWNER_FILE}`,
    `${Deno.pid} ${await processStartTime(Deno.pid)}\n`,
  );
  return dir;
}

/** Whether the process that made `dir` still runs (same pid and the same start time). */
async function ownerAlive(dir: string): Promise<boolean> {
  const text = await Deno.readTextFile(`${dir}/${OWNER_FILE}`).catch(() => undefined);
  if (text === undefined) {
    // Made a moment ago and not yet written, or not ours: only an old folder counts as stale.
    const info = await Deno.stat(dir).catch(() => undefined);
    return info?.mtime !== null && info?.mtime !== undefined &&
      Date.now() - info.mtime.getTime() < 60_000;
  }
  const [pid, started] = text.trim().split(" ");
  if (pid === undefined || !/^\d+$/.test(pid)) return false;
  return await processStartTime(Number(pid)) === started;
}

/** Removes the work folders under `tempDir` of demos that died without cleaning up. */
export async function reapStaleWorkDirs(tempDir: string): Promise<string[]> {
  const removed: string[] = [];
  for await (const entry of Deno.readDir(tempDir)) {
    if (!entry.isDirectory || !entry.name.startsWith(WORK_DIR_PREFIX)) continue;
    const dir = `${tempDir}/${entry.name}`;
    if (await ownerAlive(dir)) continue;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    removed.push(dir);
  }
  return removed;
}
