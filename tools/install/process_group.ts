// nixos-anywhere's whole process tree, as one process group: started in a session of its own
// (its ssh and nix children stay in its group), stopped as a whole with SIGTERM and, after a
// grace period, SIGKILL, and found again by a later install when the one that started it was
// killed. Deno grants /proc and Deno.kill only with --allow-all, so `ps` and `kill` do the work.
import { createProcessRunner } from "../lib/process_runner.ts";

/** Seconds the group has to end after SIGTERM before it gets SIGKILL. */
export const STOP_GRACE_SECONDS = 10;

/** How a stop ended: every process gone (after SIGTERM alone, or SIGKILL too), or some left. */
export type StopOutcome =
  | { kind: "ended"; signal: "SIGTERM" | "SIGKILL" }
  | { kind: "still-running"; pids: number[] };

/** What a later install needs to find a group again: its id and its leader's start time. */
export interface GroupRecord {
  host: string;
  pgid: number;
  /** The leader's start time as `ps -o lstart=` prints it. */
  started: string;
}

const runner = createProcessRunner();

/** Runs `argv` (ps or kill); exit code 1 (no such process) is an answer, not a failure. */
async function output(argv: string[]): Promise<{ code: number; stdout: string }> {
  const result = await runner.run({ argv, okCodes: [1] });
  return { code: result.code, stdout: result.stdout };
}

/** The live (not zombie) processes of group `pgid`. */
export async function groupMembers(pgid: number): Promise<number[]> {
  const { stdout } = await output(["ps", "-A", "-o", "pid=,pgid=,stat="]);
  return stdout.split("\n").flatMap((line) => {
    const [pid, group, stat] = line.trim().split(/\s+/);
    return Number(group) === pgid && stat !== undefined && !stat.startsWith("Z")
      ? [Number(pid)]
      : [];
  });
}

/** The start time of process `pid` (`ps -o lstart=`), or undefined when it is gone. */
export async function startTime(pid: number): Promise<string | undefined> {
  const { code, stdout } = await output(["ps", "-o", "lstart=", "-p", String(pid)]);
  return code === 0 && stdout.trim() !== "" ? stdout.trim() : undefined;
}

/** Sends `signal` to every process of group `pgid` (nothing if it is gone). */
export async function signalGroup(pgid: number, signal: "TERM" | "KILL"): Promise<void> {
  await output(["kill", "-s", signal, "--", `-${pgid}`]);
}

async function endedWithin(pgid: number, ms: number): Promise<number[]> {
  const deadline = Date.now() + ms;
  while (true) {
    const members = await groupMembers(pgid);
    if (members.length === 0 || Date.now() >= deadline) return members;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Stops group `pgid`: SIGTERM, up to `graceSeconds` for it to end, then SIGKILL and up to 5 s;
 * says what is true afterwards.
 */
export async function stopGroup(
  pgid: number,
  graceSeconds = STOP_GRACE_SECONDS,
): Promise<StopOutcome> {
  await signalGroup(pgid, "TERM");
  if ((await endedWithin(pgid, graceSeconds * 1000)).length === 0) {
    return { kind: "ended", signal: "SIGTERM" };
  }
  await signalGroup(pgid, "KILL");
  const left = await endedWithin(pgid, 5000);
  return left.length === 0
    ? { kind: "ended", signal: "SIGKILL" }
    : { kind: "still-running", pids: left };
}

/**
 * Whether the recorded group still runs: a member is alive, and its leader, if alive, is the
 * one recorded (a group id is a pid, and pids are reused once the whole group has ended).
 */
export async function recordedGroupRuns(record: GroupRecord): Promise<boolean> {
  if ((await groupMembers(record.pgid)).length === 0) return false;
  const leader = await startTime(record.pgid);
  return leader === undefined || leader === record.started;
}

/** Describes a stop for a message: what was sent and whether it worked. */
export function describeStop(outcome: StopOutcome, graceSeconds = STOP_GRACE_SECONDS): string {
  if (outcome.kind === "still-running") {
    return `SIGTERM, then SIGKILL after ${graceSeconds} s, left process(es) ${
      outcome.pids.join(", ")
    } running`;
  }
  return outcome.signal === "SIGTERM"
    ? "it ended on SIGTERM with all its processes"
    : `it and all its processes ended on SIGKILL, ${graceSeconds} s after SIGTERM`;
}
