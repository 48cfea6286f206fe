// Who deploys: an id of this deployer (user, machine, pid, temp folder) that the target records
// with its lock, so a later run can tell a dead deployer's leftovers from a live one. A live
// deployer holds a lock on the owner file of its temp folder; the kernel drops it when the
// process dies, however it dies (the deploy task may not read /proc of other processes).
// Only that free lock, on an owner file that exists, proves a deployer dead: a folder that
// cannot be seen (another machine with the same name, another mount namespace such as systemd
// PrivateTmp, a container) proves nothing.

/** The prefix of the deployer's temp folders (known_hosts, control sockets, owner file). */
export const TEMP_PREFIX = "devops-deploy-";
/** The file in a temp folder that names its deployer; locked while the deployer lives. */
export const OWNER_FILE = "owner";

/** The parts of a deployer id `user@machine:pid:folder`. */
export interface DeployerId {
  user: string;
  machine: string;
  pid: number;
  /** The deployer's temp folder. */
  dir: string;
}

/** This run's temp folder, its owner id, and the held lock that says it lives. */
export interface RunDir extends AsyncDisposable {
  dir: string;
  id: string;
  /**
   * At the end, leave the owner file (unlocked) in the folder: the proof that this deployer
   * is dead, for a later run that finds a supervisor of it on a host. That run removes it.
   */
  keepOwner(): void;
}

/**
 * Where the deployers' temp folders are, whatever TMPDIR says: the deploy task may write there
 * only (deno.json), a control socket's path must stay short (107 bytes for a unix socket), and
 * deployers of one machine find each other's leftovers in one place.
 */
export const RUN_PARENT = "/tmp";

/** Makes this run's temp folder, records its owner and holds the owner file's lock. */
export async function makeRunDir(): Promise<RunDir> {
  const dir = await Deno.makeTempDir({ dir: RUN_PARENT, prefix: TEMP_PREFIX });
  const user = (Deno.env.get("USER") ?? Deno.env.get("LOGNAME") ?? "user").replace(/[^\w.-]/g, "_");
  const id = `${user}@${await machineName()}:${Deno.pid}:${dir}`;
  const file = await Deno.open(`${dir}/${OWNER_FILE}`, {
    write: true,
    create: true,
    truncate: true,
    mode: 0o600,
  });
  await file.lock(true);
  await file.write(new TextEncoder().encode(`${id}\n`));
  let keep = false;
  return {
    dir,
    id,
    keepOwner() {
      keep = true;
    },
    async [Symbol.asyncDispose]() {
      if (keep) {
        for (const entry of await Array.fromAsync(Deno.readDir(dir)).catch(() => [])) {
          if (entry.name === OWNER_FILE) continue;
          await Deno.remove(`${dir}/${entry.name}`, { recursive: true }).catch(() => {});
        }
        file.close();
        return;
      }
      file.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/** Parses `user@machine:pid:folder`; undefined when it is not one. */
export function parseDeployerId(id: string): DeployerId | undefined {
  const match = /^([\w.-]+)@([\w.-]+):(\d+):(\/[\w./-]+)$/.exec(id);
  if (!match) return undefined;
  return { user: match[1]!, machine: match[2]!, pid: Number(match[3]), dir: match[4]! };
}

/** `root@box (pid 123)` for messages. */
export function deployerText(id: string | undefined): string {
  const parsed = id === undefined ? undefined : parseDeployerId(id);
  return parsed
    ? `${parsed.user}@${parsed.machine} (pid ${parsed.pid})`
    : (id ?? "an unknown deployer");
}

/**
 * Whether the deployer `id` is known to be dead: it ran on a machine of this name and its
 * owner file, there now, is not locked. A folder or owner file not found is no proof (it may
 * be another machine's, or in a mount namespace this process cannot see): not dead.
 */
export async function deployerIsDead(id: string): Promise<boolean> {
  const parsed = parseDeployerId(id);
  if (parsed === undefined || parsed.machine !== await machineName()) return false;
  if (!parsed.dir.startsWith("/") || !parsed.dir.split("/").pop()!.startsWith(TEMP_PREFIX)) {
    return false;
  }
  return await ownerLockIsFree(parsed.dir);
}

async function ownerLockIsFree(dir: string): Promise<boolean> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(`${dir}/${OWNER_FILE}`, { read: true, write: true });
  } catch {
    return false;
  }
  try {
    return await file.tryLock(true);
  } finally {
    file.close();
  }
}

async function machineName(): Promise<string> {
  const name = await Deno.readTextFile("/etc/hostname").catch(() => "localhost");
  return name.trim().replace(/[^\w.-]/g, "_") || "localhost";
}

/** A dead deployer's temp folder and its id (from its owner file). */
export interface StaleRunDir {
  dir: string;
  owner: string;
}

/**
 * The temp folders (beside `ownDir`) of deployers that died or left their owner file as the
 * proof of it: only those whose owner lock is free (another deployer may be working on other
 * hosts).
 */
export async function staleRunDirs(ownDir: string): Promise<StaleRunDir[]> {
  const parent = ownDir.replace(/\/[^/]+$/, "");
  const stale: StaleRunDir[] = [];
  for await (const entry of Deno.readDir(parent)) {
    if (!entry.isDirectory || !entry.name.startsWith(TEMP_PREFIX)) continue;
    const dir = `${parent}/${entry.name}`;
    if (dir === ownDir) continue;
    const owner = await Deno.readTextFile(`${dir}/${OWNER_FILE}`).catch(() => undefined);
    if (owner !== undefined && await ownerLockIsFree(dir)) stale.push({ dir, owner: owner.trim() });
  }
  return stale;
}

/**
 * Seconds a dead deployer's owner file is kept as the proof of its death: a supervisor it left
 * waiting on a host (up to its activation, check and confirm bounds) may be taken over by any
 * later rerun from this machine, not only the next deploy, which may be of other hosts. Past
 * this, the folder goes: a host still waiting then answers busy until its own window ends.
 */
export const DEAD_OWNER_KEEP_SECONDS = 86_400;

/**
 * Clears a dead deployer's folder ({@linkcode staleRunDirs}): everything but its owner file,
 * which stays as the proof for later reruns; the folder itself once that proof is older than
 * {@linkcode DEAD_OWNER_KEEP_SECONDS}. A folder or entry gone meanwhile (another deployer
 * cleaning at the same time) is no error.
 */
export async function clearStaleRunDir(dir: string, now = Date.now()): Promise<void> {
  const modified = await Deno.stat(`${dir}/${OWNER_FILE}`).then((s) => s.mtime, () => null);
  if (modified === null || now - modified.getTime() > DEAD_OWNER_KEEP_SECONDS * 1000) {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    return;
  }
  for (const entry of await Array.fromAsync(Deno.readDir(dir)).catch(() => [])) {
    if (entry.name === OWNER_FILE) continue;
    await Deno.remove(`${dir}/${entry.name}`, { recursive: true }).catch(() => {});
  }
}
