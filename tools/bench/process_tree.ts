// The processes of one benchmarked command, found by an environment marker that every
// descendant inherits (also ones that daemonize, like `ssh -M -f`): their CPU time read from
// /proc, and a way to end them all. Benchmarks only; Linux /proc, run as root or as their owner.

/** The environment variable that marks a benchmarked command's processes. */
export const MARKER_VARIABLE = "DEVOPS_BENCH_RUN";

/** One line of /proc/<pid>/stat, the fields the benchmarks use (times in clock ticks). */
export interface ProcStat {
  pid: number;
  /** The program name (`comm`, at most 15 bytes). */
  comm: string;
  ppid: number;
  utime: number;
  stime: number;
  /** CPU of the children it has waited for. */
  cutime: number;
  cstime: number;
  starttime: number;
}

/** Parses /proc/<pid>/stat (the command name may hold spaces and parentheses). */
export function parseProcStat(text: string): ProcStat {
  const close = text.lastIndexOf(")");
  const pid = Number(text.slice(0, text.indexOf(" ")));
  // Fields after the name, counted from 3 (state) as in proc(5).
  const rest = text.slice(close + 2).trim().split(" ");
  const field = (n: number) => Number(rest[n - 3]);
  const stat = {
    pid,
    comm: text.slice(text.indexOf("(") + 1, close),
    ppid: field(4),
    utime: field(14),
    stime: field(15),
    cutime: field(16),
    cstime: field(17),
    starttime: field(22),
  };
  const { comm: _, ...numbers } = stat;
  if (close < 0 || Object.values(numbers).some((v) => !Number.isInteger(v))) {
    throw new Error(`Cannot parse /proc stat line: ${JSON.stringify(text.slice(0, 80))}`);
  }
  return stat;
}

/** Whether a /proc/<pid>/environ text (NUL-separated) holds `name=value`. */
export function environHas(environ: string, name: string, value: string): boolean {
  return environ.split("\0").includes(`${name}=${value}`);
}

/** Clock ticks per second of /proc times (USER_HZ; 100 on every Linux this runs on). */
export const CLOCK_TICKS = 100;

interface Seen {
  marked: boolean;
  last?: ProcStat;
}

/** Samples the marked processes' CPU; see {@linkcode startCpuSampler}. */
export interface CpuSampler {
  /**
   * Stops sampling (one last sample first) and returns the CPU milliseconds (user + system)
   * of the marked processes whose parent is not marked, other than `rootPid`: the ones whose
   * time no marked parent collects when it waits for them (daemons such as `ssh -M -f`).
   */
  stop(rootPid: number): Promise<number>;
  /** Pids of every marked process seen so far. */
  readonly seen: readonly number[];
  /**
   * CPU milliseconds of the marked processes by program name, each process's own time at its
   * last sample: a lower bound (ticks after a process's last sample, and processes that lived
   * less than one interval, are missing).
   */
  byProgram(): Record<string, number>;
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

/** The pids in /proc now. */
async function pids(): Promise<number[]> {
  const found: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (/^\d+$/.test(entry.name)) found.push(Number(entry.name));
  }
  return found;
}

/**
 * Samples every `intervalMs` the processes marked with `MARKER_VARIABLE=marker`: only new pids
 * are checked for the marker, so a sample costs a /proc listing plus a read per marked process.
 * A process's last interval before it exits is lost, a bound of `intervalMs` of CPU per daemon.
 */
export function startCpuSampler(marker: string, intervalMs = 100): CpuSampler {
  // Keyed by pid and start time, so a reused pid is a new process.
  const table = new Map<string, Seen>();
  let stopped = false;
  const sample = async () => {
    for (const pid of await pids()) {
      const text = await readText(`/proc/${pid}/stat`);
      if (text === undefined) continue;
      let stat: ProcStat;
      try {
        stat = parseProcStat(text);
      } catch {
        continue;
      }
      const key = `${pid}:${stat.starttime}`;
      let seen = table.get(key);
      if (seen === undefined) {
        const environ = await readText(`/proc/${pid}/environ`) ?? "";
        seen = { marked: environHas(environ, MARKER_VARIABLE, marker) };
        table.set(key, seen);
      }
      if (seen.marked) seen.last = stat;
    }
  };
  let running = sample();
  const timer = setInterval(() => {
    if (stopped) return;
    running = running.then(sample).catch(() => {});
  }, intervalMs);
  const marked = () => [...table.values()].filter((s) => s.marked && s.last !== undefined);
  return {
    get seen() {
      return marked().map((s) => s.last!.pid);
    },
    byProgram() {
      const ms: Record<string, number> = {};
      for (const { last } of marked()) {
        ms[last!.comm] = (ms[last!.comm] ?? 0) + (last!.utime + last!.stime) * 1000 / CLOCK_TICKS;
      }
      return ms;
    },
    async stop(rootPid) {
      stopped = true;
      clearInterval(timer);
      await running.catch(() => {});
      await sample().catch(() => {});
      const all = marked();
      const markedPids = new Set(all.map((s) => s.last!.pid));
      let ticks = 0;
      for (const s of all) {
        const stat = s.last!;
        if (stat.pid === rootPid || markedPids.has(stat.ppid)) continue;
        ticks += stat.utime + stat.stime;
      }
      return ticks * 1000 / CLOCK_TICKS;
    },
  };
}

async function markedPids(marker: string): Promise<number[]> {
  const found: number[] = [];
  for (const pid of await pids()) {
    if (pid === Deno.pid) continue;
    const environ = await readText(`/proc/${pid}/environ`);
    if (environ !== undefined && environHas(environ, MARKER_VARIABLE, marker)) found.push(pid);
  }
  return found;
}

function send(pid: number, signal: Deno.Signal): boolean {
  try {
    Deno.kill(pid, signal);
    return true;
  } catch {
    return false; // Gone already.
  }
}

/**
 * Ends every process that carries `MARKER_VARIABLE=marker`: SIGTERM first when `graceMs` is
 * given (so a tool can clean up after itself), SIGKILL for what is left after it. Returns the
 * pids it signalled.
 */
export async function killMarked(marker: string, graceMs = 0): Promise<number[]> {
  const signalled = new Set<number>();
  if (graceMs > 0) {
    for (const pid of await markedPids(marker)) if (send(pid, "SIGTERM")) signalled.add(pid);
    const deadline = performance.now() + graceMs;
    while (performance.now() < deadline && (await markedPids(marker)).length > 0) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  // Repeat: a process may fork while its siblings are being killed.
  for (let round = 0; round < 20; round++) {
    const found = await markedPids(marker);
    if (found.length === 0) break;
    for (const pid of found) if (send(pid, "SIGKILL")) signalled.add(pid);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return [...signalled];
}

/** CPU milliseconds of `pid` and the children it has waited for; undefined when it is gone. */
export async function treeCpuMs(pid: number): Promise<number | undefined> {
  const text = await readText(`/proc/${pid}/stat`);
  if (text === undefined) return undefined;
  const s = parseProcStat(text);
  return (s.utime + s.stime + s.cutime + s.cstime) * 1000 / CLOCK_TICKS;
}

/** Pids whose command line (as the process shows it) contains every one of `parts`. */
export async function pidsWithCommandLine(parts: readonly string[]): Promise<number[]> {
  const found: number[] = [];
  for (const pid of await pids()) {
    const cmdline = (await readText(`/proc/${pid}/cmdline`))?.replaceAll("\0", " ");
    if (cmdline !== undefined && parts.every((part) => cmdline.includes(part))) found.push(pid);
  }
  return found;
}

/** Busy and total clock ticks of all CPUs (/proc/stat's first line). */
export async function machineTicks(): Promise<{ busy: number; total: number }> {
  const line = (await Deno.readTextFile("/proc/stat")).split("\n")[0] ?? "";
  const values = line.trim().split(/\s+/).slice(1).map(Number);
  const total = values.reduce((sum, v) => sum + v, 0);
  // idle and iowait are the 4th and 5th values.
  return { busy: total - (values[3] ?? 0) - (values[4] ?? 0), total };
}

/** The pids whose parent is one of `parents`. */
export async function childPids(parents: readonly number[]): Promise<number[]> {
  const wanted = new Set(parents);
  const found: number[] = [];
  for (const pid of await pids()) {
    const text = await readText(`/proc/${pid}/stat`);
    if (text !== undefined && wanted.has(parseProcStat(text).ppid)) found.push(pid);
  }
  return found;
}

/**
 * Waits (at most `timeoutMs`) until none of `parents` has a child left: a listener's sessions
 * count in its CPU only once it has reaped them. Returns whether they all had.
 */
export async function waitChildrenReaped(
  parents: readonly number[],
  timeoutMs: number,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while ((await childPids(parents)).length > 0) {
    if (performance.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}
