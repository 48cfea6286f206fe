// The demo's executor, inside its network namespace: starts the test hosts, runs each step of
// the plan (each deploy through `deno task deploy`), checks the hosts, and removes everything
// it started, also when SIGINT or SIGTERM come.
import { printResult } from "../lib/cli.ts";
import { CommandError } from "../lib/errors.ts";
import { createProcessRunner, startProcess } from "../lib/process_runner.ts";
import { formatCommand } from "../lib/quote.ts";
import {
  reapStaleTestHosts,
  startTestHosts,
  type TestHost,
  type TestHosts,
} from "../lib/local_hosts.ts";
import { demoFleetTree, HOST_NIX_CONFIG, LOCAL_NIX_CONFIG, writeTree } from "./fleet.ts";
import { killRestOfOwnNetworkNamespace } from "./namespace.ts";
import {
  checkRelease,
  checkTable,
  DEMO_HOST_NAMES,
  type DemoPaths,
  deployCommand,
  type HostCheck,
  type Observed,
  planDemo,
  profileGeneration,
  systemVersion,
} from "./plan.ts";
import { createWorkDir, reapStaleWorkDirs } from "./work_dir.ts";

/** The checkout whose `deno task deploy` the demo runs (the toolkit it belongs to). */
const CHECKOUT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
/** A deploy of three small hosts takes seconds; this only bounds a hung one. */
const DEPLOY_TIMEOUT_MS = 300_000;
/** Time a deploy gets to stop by itself after the demo was interrupted. */
const STOP_GRACE_MS = 20_000;
const PROFILE = "/nix/var/nix/profiles/system";
/** Where work folders go: the deploy's permissions let it write under /tmp only. */
const WORK_PARENT = "/tmp";

function log(message: string): void {
  console.error(message);
}

const SIGNAL_NUMBERS: Partial<Record<Deno.Signal, number>> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** The exit code of a process killed by `signal`, as a shell reports it. */
export function signalExitCode(signal: Deno.Signal): number {
  return 128 + (SIGNAL_NUMBERS[signal] ?? 1);
}

/** Thrown between steps once SIGINT or SIGTERM arrived. */
class Interrupted extends Error {
  override name = "Interrupted";
  constructor(readonly signal: Deno.Signal) {
    super(`Interrupted by ${signal}`);
  }
}

/** One deploy as the demo saw it. */
interface DeployRun {
  release: number;
  command: string;
  exitCode: number;
  /** Deploy's own --json report (with --json). */
  report?: unknown;
}

/** The demo's result (what --json prints). */
interface DemoReport {
  ok: boolean;
  durationMs: number;
  deploys: DeployRun[];
  hosts: HostCheck[];
}

/** The demo itself, inside its network namespace. */
export async function runDemo(options: { json: boolean; verbose: boolean }): Promise<number> {
  const started = performance.now();
  let interrupted: Deno.Signal | undefined;
  let deploy: RunningDeploy | undefined;
  const onSignal = (signal: Deno.Signal) => () => {
    if (interrupted !== undefined) return;
    interrupted = signal;
    log(`demo: ${signal}: stopping and removing everything the demo started`);
    deploy?.stop();
  };
  const handlers = (["SIGINT", "SIGTERM"] as const).map((s) => [s, onSignal(s)] as const);
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
  const stopIfInterrupted = () => {
    if (interrupted !== undefined) throw new Interrupted(interrupted);
  };

  let work: string | undefined;
  let hosts: TestHosts | undefined;
  try {
    await runQuiet(["ip", "link", "set", "lo", "up"]);
    // What a demo (or a test run) killed with SIGKILL left: its folders, its hosts' processes.
    for (const dir of await reapStaleWorkDirs(WORK_PARENT)) {
      log(`demo: removed ${dir} of a killed demo`);
    }
    await reapStaleTestHosts();
    work = await createWorkDir(WORK_PARENT);
    log(`demo: starting test hosts ${DEMO_HOST_NAMES.join(", ")}`);
    hosts = await startTestHosts(DEMO_HOST_NAMES.length, { names: [...DEMO_HOST_NAMES] });
    log(`demo: ${describeHosts(hosts)}`);
    log(`demo: work folder ${work}, test hosts in ${hosts.dir}`);
    await Promise.all(hosts.hosts.map((host) => writeHostNixConfig(host)));
    stopIfInterrupted();

    const paths: DemoPaths = { fleetDir: `${work}/fleet`, clientKey: hosts.clientKey };
    const report: DemoReport = { ok: true, durationMs: 0, deploys: [], hosts: [] };
    let failedRelease: number | undefined;
    for (const step of planDemo(paths, options)) {
      stopIfInterrupted();
      // A release that went wrong is the end: the next one would build on it.
      if (failedRelease !== undefined) break;
      switch (step.kind) {
        case "start-hosts":
        case "clean-up":
          break;
        case "write-fleet":
          log(`\ndemo: ${step.release.title}`);
          await writeTree(step.dir, demoFleetTree(hosts.hosts, step.release.systems));
          break;
        case "deploy": {
          log(`demo: $ ${deployCommand(step.args)}`);
          deploy = startDeploy(step.args, { ...options, tempDir: work });
          const run = await deploy.result.catch((error) => {
            stopIfInterrupted();
            throw error;
          }).finally(() => deploy = undefined);
          report.deploys.push({ release: step.release.release, ...run });
          break;
        }
        case "check": {
          stopIfInterrupted();
          const observed = await observeHosts(hosts);
          const checks = checkRelease(step.release, observed);
          report.hosts = checks;
          if (!checks.every((c) => c.ok)) {
            report.ok = false;
            failedRelease = step.release.release;
          }
          break;
        }
      }
    }
    report.durationMs = Math.round(performance.now() - started);
    if (options.json) printResult(true, report);
    else {
      console.log(
        `\nWhat each host runs now, read from its system profile and /run/current-system:`,
      );
      console.log(checkTable(report.hosts));
    }
    if (failedRelease !== undefined) {
      const wrong = report.hosts.filter((c) => !c.ok).map((c) => c.host).join(", ");
      throw new Error(
        `The demo went wrong at release ${failedRelease}: ${wrong} do not run what they should (see the table)`,
      );
    }
    log(`demo: done in ${(report.durationMs / 1000).toFixed(1)} s; removing the test hosts`);
    return 0;
  } catch (error) {
    if (error instanceof Interrupted) return signalExitCode(error.signal);
    throw error;
  } finally {
    // Runs to the end even when a second signal comes: the listeners stay until it is done.
    if (hosts !== undefined) await hosts[Symbol.asyncDispose]();
    // An ssh master of an interrupted deploy outlives it; nothing else may stay either.
    const strays = await killRestOfOwnNetworkNamespace();
    if (strays.length > 0 && options.verbose) log(`demo: ended stray pids ${strays.join(", ")}`);
    if (work !== undefined) await Deno.remove(work, { recursive: true }).catch(() => {});
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
    if (interrupted !== undefined) log("demo: interrupted; everything it started is removed");
  }
}

function describeHosts(hosts: TestHosts): string {
  return hosts.hosts.map((h) => `${h.name} ${h.address}:${h.port}`).join(", ") +
    " (sshd, each in a mount namespace of its own)";
}

async function writeHostNixConfig(host: TestHost): Promise<void> {
  const dir = `${host.homeDir}/.config/nix`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/nix.conf`, HOST_NIX_CONFIG);
}

async function runQuiet(argv: readonly string[]): Promise<void> {
  try {
    await createProcessRunner().run({ argv, discardStdout: true });
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    throw new Error(`Cannot run ${formatCommand(argv)}: ${error.stderrTail}`);
  }
}

/** A deploy under way. */
interface RunningDeploy {
  /** Asks the deploy to stop (SIGINT); after a grace period it is killed. */
  stop(): void;
  result: Promise<Omit<DeployRun, "release">>;
}

/**
 * Starts `deno task deploy …` from this checkout in a process group of its own (so a signal
 * reaches the deploy and everything it runs, and a terminal's Ctrl-C goes through the demo),
 * its progress on stderr; its table goes to stdout, its report is kept with --json. Its temp
 * folder is inside the demo's work folder.
 */
function startDeploy(
  args: readonly string[],
  options: { json: boolean; verbose: boolean; tempDir: string },
): RunningDeploy {
  const fullArgs = [...args, ...(options.verbose ? ["--verbose"] : [])];
  const deno = [Deno.execPath(), "task", "-q", "deploy", ...fullArgs];
  // Started, not run to completion: the deploy runs in a process group of its own that this
  // caller signals and stops while it runs.
  const child = startProcess(["setpriv", "--pdeathsig", "TERM", "--", "setsid", "--", ...deno], {
    cwd: CHECKOUT,
    env: { NIX_CONFIG: LOCAL_NIX_CONFIG, TMPDIR: options.tempDir },
    stdin: "null",
    stdout: options.json ? "piped" : "inherit",
    stderr: "inherit",
  });
  const stdout = options.json ? new Response(child.stdout!).text() : Promise.resolve("");
  // setsid made the child (same pid) the leader of a new group: -pid signals all of it.
  const signalGroup = (signal: Deno.Signal) => {
    try {
      Deno.kill(-child.pid, signal);
    } catch {
      // The group is gone.
    }
  };
  const timers: ReturnType<typeof setTimeout>[] = [];
  let ending: "stopped" | "timed-out" | undefined;
  const end = (why: "stopped" | "timed-out", signal: Deno.Signal) => {
    if (ending !== undefined) return;
    ending = why;
    signalGroup(signal);
    timers.push(setTimeout(() => signalGroup("SIGKILL"), STOP_GRACE_MS));
  };
  timers.push(setTimeout(() => end("timed-out", "SIGTERM"), DEPLOY_TIMEOUT_MS));
  const result = (async () => {
    try {
      const status = await child.status;
      const text = await stdout;
      if (ending === "timed-out") {
        throw new Error(`deno task deploy did not end within ${DEPLOY_TIMEOUT_MS / 1000} s`);
      }
      const run: Omit<DeployRun, "release"> = {
        command: deployCommand(fullArgs),
        exitCode: status.code,
      };
      if (options.json) {
        try {
          run.report = JSON.parse(text);
        } catch {
          throw new Error(`deno task deploy printed no JSON report (exit code ${status.code})`);
        }
      }
      return run;
    } finally {
      for (const timer of timers) clearTimeout(timer);
    }
  })();
  return { stop: () => end("stopped", "SIGINT"), result };
}

/** What each host runs, read from its files (not from the deploy's report). */
async function observeHosts(hosts: TestHosts): Promise<Record<string, Observed>> {
  const observed: Record<string, Observed> = {};
  for (const host of hosts.hosts) {
    const link = await Deno.readLink(host.hostPath(PROFILE)).catch(() => undefined);
    const system = await host.resolve(PROFILE).catch(() => undefined);
    const active = await host.resolve("/run/current-system").catch(() => undefined);
    const store = await Array.fromAsync(Deno.readDir(host.hostPath("/nix/store"))).catch(() => []);
    const delivered = store.map((entry) => systemVersion(`/nix/store/${entry.name}`))
      .filter((version) => version !== undefined).sort((a, b) => a - b);
    observed[host.name] = {
      generation: profileGeneration(link),
      version: link === undefined ? undefined : systemVersion(system),
      activeVersion: systemVersion(active),
      delivered: [...new Set(delivered)],
    };
  }
  return observed;
}
