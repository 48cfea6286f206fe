// Who deploys: an id of this deployer process (user, machine, pid, start time) that the target
// records with its lock, so a later run can tell a dead deployer's leftovers from a live one.

/** This deployer: `user@machine:pid:start`; start is the process's start time in clock ticks. */
export async function deployerId(): Promise<string> {
  const user = (Deno.env.get("USER") ?? Deno.env.get("LOGNAME") ?? "user").replace(/[^\w.-]/g, "_");
  return `${user}@${await machineName()}:${Deno.pid}:${await processStart(Deno.pid) ?? 0}`;
}

/** The parts of a deployer id. */
export interface DeployerId {
  user: string;
  machine: string;
  pid: number;
  start: string;
}

/** Parses `user@machine:pid:start`; undefined when it is not one. */
export function parseDeployerId(id: string): DeployerId | undefined {
  const match = /^([\w.-]+)@([\w.-]+):(\d+):(\d+)$/.exec(id);
  if (!match) return undefined;
  return { user: match[1]!, machine: match[2]!, pid: Number(match[3]), start: match[4]! };
}

/** `root@box (pid 123)` for messages. */
export function deployerText(id: string | undefined): string {
  const parsed = id === undefined ? undefined : parseDeployerId(id);
  return parsed
    ? `${parsed.user}@${parsed.machine} (pid ${parsed.pid})`
    : (id ?? "an unknown deployer");
}

/**
 * Whether the deployer `id` is known to be dead: it ran on this machine and its process is gone
 * (or the pid is another process now). A deployer on another machine is never declared dead.
 */
export async function deployerIsDead(id: string): Promise<boolean> {
  const parsed = parseDeployerId(id);
  if (parsed === undefined || parsed.machine !== await machineName()) return false;
  const start = await processStart(parsed.pid);
  return start === undefined || start !== parsed.start;
}

async function machineName(): Promise<string> {
  const name = await Deno.readTextFile("/proc/sys/kernel/hostname").catch(() => "localhost");
  return name.trim().replace(/[^\w.-]/g, "_") || "localhost";
}

async function processStart(pid: number): Promise<string | undefined> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** The prefix of the deployer's temp folders (known_hosts, control sockets, owner file). */
export const TEMP_PREFIX = "devops-deploy-";
/** The file in a temp folder that names its deployer. */
export const OWNER_FILE = "owner";

/** Makes this run's temp folder and records its owner. */
export async function makeRunDir(id: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: TEMP_PREFIX });
  await Deno.writeTextFile(`${dir}/${OWNER_FILE}`, `${id}\n`, { mode: 0o600 });
  return dir;
}

/**
 * The temp folders (beside `ownDir`) of deployers that died without cleaning up: only those
 * whose owner file names a dead process on this machine (another deployer may be working).
 */
export async function staleRunDirs(ownDir: string): Promise<string[]> {
  const parent = ownDir.replace(/\/[^/]+$/, "");
  const stale: string[] = [];
  for await (const entry of Deno.readDir(parent)) {
    if (!entry.isDirectory || !entry.name.startsWith(TEMP_PREFIX)) continue;
    const dir = `${parent}/${entry.name}`;
    if (dir === ownDir) continue;
    const owner = await Deno.readTextFile(`${dir}/${OWNER_FILE}`).catch(() => undefined);
    if (owner !== undefined && await deployerIsDead(owner.trim())) stale.push(dir);
  }
  return stale;
}
