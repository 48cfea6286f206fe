// Test fleets for deploy: sshd test hosts, a fixture flake pointing at them, and ways to run
// `deno task deploy` against them (to the end, or spawned so a test can signal it).
import { captureMain } from "../testing/capture.ts";
import { FIXTURE_STATE, type FixtureHost } from "../testing/fixture_flake.ts";
import { startFixtureFleet, type StartHosts } from "../testing/fixture_fleet.ts";
import { type ProgramResult } from "../testing/run.ts";
import { type ProgramsBin, runTask } from "../testing/task.ts";
import type { TestHost, TestHosts } from "../testing/test_hosts.ts";
import { testHostFlags } from "./_test_flags.ts";
import { main, type MainOptions } from "./main.ts";
import type { HostPlan } from "./plan.ts";
import type { DeployReport, HostReport } from "./report.ts";
import { waitFor } from "../testing/wait.ts";

export const PROFILE = "/nix/var/nix/profiles/system";

/** A finished deploy and its --json report, when it printed one. */
export interface Outcome extends ProgramResult {
  report?: DeployReport;
}

function withReport(result: ProgramResult): Outcome {
  const outcome: Outcome = { ...result };
  const start = result.stdout.indexOf("{");
  if (start >= 0) {
    try {
      outcome.report = JSON.parse(result.stdout.slice(start));
    } catch {
      // not a report
    }
  }
  return outcome;
}

/**
 * Starts `count` test hosts `web1…` (light sshd hosts, or what `start` starts: systemd hosts)
 * and a fixture flake (with the toolkit) pointing at them.
 */
export async function fleet<H extends TestHosts = TestHosts>(
  count: number,
  extra: (i: number) => Partial<FixtureHost> = () => ({}),
  start?: StartHosts<H>,
) {
  const base = await startFixtureFleet(count, extra, start);
  const { hosts, flake, bin } = base;
  const args = (...rest: string[]) => [
    ...testHostFlags(hosts),
    "--connect-timeout",
    "2",
    "--json",
    ...rest,
  ];
  const list = base.list;
  return {
    hosts,
    list,
    flake,
    args,
    bin,
    /** `deno task deploy …` in the fixture repository, to the end. */
    async task(...rest: string[]): Promise<Outcome> {
      return withReport(await runTask(flake.dir, "deploy", args(...rest), { bin }));
    },
    /** main() in this process (for the seams of MainOptions). */
    async inProcess(rest: string[], seams: MainOptions = {}): Promise<Outcome> {
      return withReport(
        await captureMain(() => main(["--repo", flake.dir, ...args(...rest)], seams)),
      );
    },
    /** `deno task deploy …` spawned: the test can signal the deployer while it runs. */
    spawn(...rest: string[]): SpawnedDeploy {
      return spawnDeploy(flake.dir, bin, args(...rest));
    },
    [Symbol.asyncDispose]: () => base[Symbol.asyncDispose](),
  };
}

/** A running `deno task deploy`. */
export interface SpawnedDeploy {
  /** The deployer process (`deno run … tools/deploy/main.ts`, the task's child). */
  deployerPid(): Promise<number>;
  done: Promise<Outcome>;
}

function spawnDeploy(dir: string, bin: ProgramsBin, args: string[]): SpawnedDeploy {
  const child = new Deno.Command(`${bin.dir}/deno`, {
    args: ["task", "-q", "deploy", ...args],
    cwd: dir,
    env: { PATH: bin.dir, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const done = child.output().then((out) =>
    withReport({
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      stderr: new TextDecoder().decode(out.stderr),
    })
  );
  return {
    done,
    deployerPid: () =>
      waitFor("the deployer process", async () => (await childrenOf(child.pid))[0]),
  };
}

/** The pids whose parent is `pid`. */
export async function childrenOf(pid: number): Promise<number[]> {
  const found: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const status = await Deno.readTextFile(`/proc/${entry.name}/status`).catch(() => "");
    if (new RegExp(`^PPid:\\s+${pid}$`, "m").test(status)) found.push(Number(entry.name));
  }
  return found;
}

export { waitFor };

/** The host's system profile generation. */
export async function generation(host: TestHost): Promise<number | undefined> {
  const link = await Deno.readLink(host.hostPath(PROFILE)).catch(() => undefined);
  return link === undefined ? undefined : Number(link.replace(/^system-(\d+)-link$/, "$1"));
}

/** The system the host runs. */
export async function active(host: TestHost): Promise<string | undefined> {
  return await host.resolve("/run/current-system").catch(() => undefined);
}

/** Every switch-to-configuration call on the host: `<action> <toplevel>`. */
export async function activations(host: TestHost): Promise<string[]> {
  const text = await Deno.readTextFile(host.hostPath(FIXTURE_STATE.activations)).catch(() => "");
  return text.split("\n").filter(Boolean);
}

/** The run state dirs on the host and their status. */
export async function supervisorStates(host: TestHost): Promise<Record<string, string>> {
  const states: Record<string, string> = {};
  const base = host.hostPath("/run/devops-deploy");
  for (const entry of await Array.fromAsync(Deno.readDir(base)).catch(() => [])) {
    if (!entry.isDirectory) continue;
    states[entry.name] = (await Deno.readTextFile(`${base}/${entry.name}/status`).catch(() => ""))
      .trim();
  }
  return states;
}

/** The host's last-deploy record as key=value pairs. */
export async function lastDeploy(host: TestHost): Promise<Record<string, string>> {
  const text = await Deno.readTextFile(host.hostPath("/nix/var/devops-deploy/last-deploy"))
    .catch(() => "");
  return Object.fromEntries(
    text.split("\n").filter((l) => l.includes("=")).map((l) => [
      l.slice(0, l.indexOf("=")),
      l.slice(l.indexOf("=") + 1),
    ]),
  );
}

/** The pids of processes in the host's namespace whose command line contains `text`. */
export async function hostProcessesWith(host: TestHost, text: string): Promise<number[]> {
  const found: number[] = [];
  for (const pid of await host.processes()) {
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
    if (cmdline.replaceAll("\0", " ").includes(text)) found.push(pid);
  }
  return found;
}

/** Kills the host's sshd session processes (not the listener): every ssh session drops. */
export async function dropSessions(host: TestHost): Promise<void> {
  for (const pid of await host.processes()) {
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
    if (cmdline.startsWith("sshd:") && !cmdline.includes("[listener]")) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // gone
      }
    }
  }
}

/** The local processes whose command line contains `text`. */
export async function localProcessesWith(text: string): Promise<number[]> {
  const found: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name) || Number(entry.name) === Deno.pid) continue;
    const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
    if (cmdline.replaceAll("\0", " ").includes(text)) found.push(Number(entry.name));
  }
  return found;
}

/** The deployer's temp folder (its owner file names `pid`). */
export async function runDirOf(pid: number): Promise<string | undefined> {
  for await (const entry of Deno.readDir("/tmp")) {
    if (!entry.name.startsWith("devops-deploy-")) continue;
    const owner = await Deno.readTextFile(`/tmp/${entry.name}/owner`).catch(() => "");
    if (owner.split(":")[1] === String(pid)) return `/tmp/${entry.name}`;
  }
  return undefined;
}

/** The report line of `host`; throws when there is none. */
export function hostReport(report: DeployReport | undefined, host: string): HostReport {
  const found = report?.hosts.find((h) => h.host === host);
  if (found === undefined) throw new Error(`no report for ${host}`);
  return found;
}

/** A plan for running the target scripts on a test host directly. */
export function scriptPlan(host: TestHost, extra: Partial<HostPlan>): HostPlan {
  return {
    host: host.name,
    address: host.address,
    port: host.port,
    user: host.user,
    buildOn: "local",
    mode: "test",
    confirmTimeout: 2,
    activationTimeout: 30,
    healthCheckTimeout: 1,
    healthChecks: [],
    rollback: true,
    sudo: "none",
    toplevelAttr: "unused",
    ...extra,
  };
}
