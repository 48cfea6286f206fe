// The deploy executor: runs the plan's commands through the injected Runner, host by host
// with a bound on parallelism; a failing host never stops the others.
import { z } from "zod";
import { CommandError, oneLineMessage } from "../lib/errors.ts";
import type { Runner } from "../lib/runner.ts";
import { parseOrThrow } from "../lib/validate.ts";
import {
  activateCommand,
  buildArgv,
  closeMasterArgv,
  type Connection,
  controlCommand,
  copyArgv,
  dryActivateCommand,
  evalToplevelsArgv,
  keyscanArgv,
  masterArgv,
  nixSshEnv,
  probeCommand,
  realiseCommand,
  sshArgv,
  type SshContext,
  stateDirName,
} from "./commands.ts";
import { fingerprint, keyFromKeyscan, type PinnedKey } from "./known_hosts.ts";
import { type DeployPlan, type HostPlan, usesMagicRollback } from "./plan.ts";
import type { Phase, Progress } from "./progress.ts";
import {
  DIFF_MARKER,
  isFinalStatus,
  parseKeyValues,
  parseRemoteState,
  type RemoteState,
} from "./remote.ts";
import type { DeployReport, HostReport } from "./report.ts";

/** Test seams and interaction. */
export interface DeployHooks {
  /** Called when a host reports its activation, before health checks and confirmation. */
  afterActivate?: (host: string) => Promise<void> | void;
}

/** What the executor needs besides the plan. */
export interface ExecuteDeps {
  runner: Runner;
  progress: Progress;
  ssh: SshContext;
  /** The pinned key of each host (from the repository). */
  pinnedKeys: ReadonlyMap<string, PinnedKey>;
  noCheckSigs: boolean;
  /** Asks a person to activate a host; undefined: do not ask. */
  ask?: (host: string) => Promise<boolean>;
  /** The sudo password, sent on stdin to `sudo -S` (never on a command line). */
  sudoPassword?: string;
  hooks?: DeployHooks;
  /** Seconds to keep trying to reach a host that dropped, after its confirm timeout. */
  recoveryGraceSeconds?: number;
}

const toplevelsSchema = z.record(
  z.string(),
  z.object({ drv: z.string(), out: z.string() }),
);
const buildSchema = z.array(
  z.object({ drvPath: z.string(), outputs: z.record(z.string(), z.string()) }),
);

/** A host's deploy failed at `step`. */
class StepError extends Error {
  constructor(
    readonly step: string,
    message: string,
    readonly rolledBack: boolean | "expected" = false,
  ) {
    super(message);
  }
}

/** Runs the plan; never throws for a host's failure, only reports it. */
export async function executeDeploy(plan: DeployPlan, deps: ExecuteDeps): Promise<DeployReport> {
  const started = new Map(plan.hosts.map((h) => [h.host, performance.now()]));
  const reports = new Map<string, HostReport>();
  const fail = (host: HostPlan, step: string, error: unknown) => {
    reports.set(host.host, {
      host: host.host,
      address: host.address,
      result: "failed",
      failedStep: step,
      error: oneLineMessage(error),
      rolledBack: false,
      durationMs: Math.round(performance.now() - started.get(host.host)!),
    });
    deps.progress.update(host.host, "failed", `${step}: ${oneLineMessage(error)}`);
  };

  // Each host's shared connection opens while the hosts are evaluated and built.
  const masters = new Map<string, Promise<unknown>>();
  if (deps.ssh.controlDir !== undefined) {
    for (const host of plan.hosts) {
      const master = deps.runner.run({ argv: masterArgv(host, deps.ssh, 600) });
      master.catch(() => {}); // awaited (and reported) by the host's connect step
      masters.set(host.host, master);
    }
  }
  try {
    return await deployAll(plan, deps, { started, reports, fail, masters });
  } finally {
    await Promise.all(
      [...masters].map(async ([name, master]) => {
        if (!(await master.then(() => true, () => false))) return;
        const host = plan.hosts.find((h) => h.host === name)!;
        await deps.runner.run({ argv: closeMasterArgv(host, deps.ssh), okCodes: [255] })
          .catch(() => {});
      }),
    );
  }
}

interface DeployState {
  started: Map<string, number>;
  reports: Map<string, HostReport>;
  fail: (host: HostPlan, step: string, error: unknown) => void;
  masters: Map<string, Promise<unknown>>;
}

async function deployAll(
  plan: DeployPlan,
  deps: ExecuteDeps,
  { started, reports, fail, masters }: DeployState,
): Promise<DeployReport> {
  const toplevels = await buildToplevels(plan, deps, fail);
  const queue = plan.hosts.filter((h) => !reports.has(h.host));
  for (const h of queue) deps.progress.update(h.host, "waiting");
  const worker = async () => {
    for (let host = queue.shift(); host; host = queue.shift()) {
      const master = masters.get(host.host);
      const hostDeps = master === undefined ? deps : { ...deps, master };
      const report = await deployHost(host, toplevels[host.host]!, hostDeps).catch((error) => {
        const step = error instanceof StepError ? error.step : "deploy";
        fail(host, step, error);
        const failed = reports.get(host.host)!;
        if (error instanceof HostStepError) {
          Object.assign(failed, error.partial, {
            result: "failed",
            failedStep: step,
            error: failed.error,
          });
        }
        if (error instanceof StepError) failed.rolledBack = error.rolledBack;
        return failed;
      });
      report.durationMs = Math.round(performance.now() - started.get(host.host)!);
      reports.set(host.host, report);
      if (report.result === "ok") deps.progress.update(host.host, "ok", report.status ?? "");
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, plan.parallel) }, worker));
  deps.progress.done();
  const hosts = plan.hosts.map((h) => reports.get(h.host)!);
  return {
    mode: plan.hosts[0]?.mode ?? "switch",
    ok: hosts.every((h) => h.result === "ok"),
    hosts,
  };
}

/** A step failed after the host had a known state worth reporting. */
class HostStepError extends StepError {
  constructor(
    step: string,
    message: string,
    readonly partial: Partial<HostReport>,
  ) {
    super(step, message, partial.rolledBack ?? false);
  }
}

type Toplevels = z.infer<typeof toplevelsSchema>;

/**
 * Evaluates and builds the toplevels: one `nix build` of the flake attribute when one host is
 * built here (nothing to map back), else one evaluation of every host's derivation (per host
 * when it fails, to find which one) and one `nix build` of all locally built derivations.
 */
async function buildToplevels(
  plan: DeployPlan,
  deps: ExecuteDeps,
  fail: (host: HostPlan, step: string, error: unknown) => void,
): Promise<Toplevels> {
  const [only] = plan.hosts;
  if (plan.hosts.length === 1 && only!.buildOn === "local") {
    deps.progress.update(only!.host, "building");
    try {
      const out = await deps.runner.text({
        argv: buildArgv([`${plan.flake}#${only!.toplevelAttr}`]),
      });
      const [built] = parseOrThrow(buildSchema, JSON.parse(out), "nix build output");
      const path = built?.outputs.out;
      if (built === undefined || path === undefined) throw new Error("the build gave no output");
      return { [only!.host]: { drv: built.drvPath, out: path } };
    } catch (error) {
      fail(only!, "build", error);
      return {};
    }
  }
  for (const h of plan.hosts) deps.progress.update(h.host, "evaluating");
  const toplevels = await evalToplevels(plan, deps.runner).catch(async () => {
    const found: Toplevels = {};
    for (const host of plan.hosts) {
      try {
        Object.assign(found, await evalToplevels({ ...plan, hosts: [host] }, deps.runner));
      } catch (error) {
        fail(host, "eval", error);
      }
    }
    return found;
  });
  const local = plan.hosts.filter((h) => h.buildOn === "local" && toplevels[h.host]);
  if (local.length > 0) {
    for (const h of local) deps.progress.update(h.host, "building");
    const drvs = [...new Set(local.map((h) => toplevels[h.host]!.drv))];
    let error: unknown;
    try {
      const out = await deps.runner.text({ argv: [...buildArgv(drvs), "--keep-going"] });
      parseOrThrow(buildSchema, JSON.parse(out), "nix build output");
    } catch (e) {
      error = e;
    }
    for (const host of local) {
      if (!(await pathExists(toplevels[host.host]!.out))) {
        fail(host, "build", error ?? new Error("the build gave no output"));
      }
    }
  }
  return toplevels;
}

async function evalToplevels(plan: DeployPlan, runner: Runner) {
  const out = await runner.text({
    argv: evalToplevelsArgv(plan.flake, plan.hosts.map((h) => h.host)),
  });
  return parseOrThrow(toplevelsSchema, JSON.parse(out), "toplevel paths");
}

async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function step<T>(name: string, body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (error) {
    if (error instanceof StepError) throw error;
    throw new StepError(name, oneLineMessage(error));
  }
}

function isConnectionError(error: unknown): boolean {
  return error instanceof CommandError && error.code === 255;
}

async function deployHost(
  host: HostPlan,
  toplevel: { drv: string; out: string },
  deps: ExecuteDeps & { master?: Promise<unknown> },
): Promise<HostReport> {
  const { runner, progress, ssh } = deps;
  const update = (phase: Phase, detail?: string) => progress.update(host.host, phase, detail);
  // Only commands run through sudo get the password on stdin.
  const remote = (
    command: string,
    extra: { root?: boolean; mutates?: boolean; connection?: Connection } = {},
  ) =>
    runner.run({
      argv: sshArgv(host, ssh, command, extra.connection ?? "shared"),
      ...(extra.root ? sudoStdin(host, deps) : {}),
      ...(extra.mutates ? { mutates: true } : {}),
    });
  const report: HostReport = {
    host: host.host,
    address: host.address,
    result: "ok",
    rolledBack: false,
    path: toplevel.out,
    durationMs: 0,
  };

  // Connect: the first contact checks the pinned host key, before anything is copied.
  update("connecting");
  await step("connect", async () => {
    try {
      await (deps.master ?? remote("true"));
    } catch (error) {
      if (
        error instanceof CommandError &&
        /Host key verification failed|REMOTE HOST IDENTIFICATION/i.test(error.stderrTail)
      ) {
        throw new StepError("connect", await hostKeyMismatch(host, deps));
      }
      throw error;
    }
  });

  const env = nixSshEnv(host, ssh);
  if (host.buildOn === "remote") {
    update("building", "on the target");
    await step("build", async () => {
      await runner.run({
        argv: copyArgv(host, toplevel.drv, { noCheckSigs: deps.noCheckSigs, derivation: true }),
        env,
      });
      await remote(realiseCommand(toplevel.drv));
    });
  } else {
    update("copying");
    await step(
      "copy",
      () =>
        runner.run({
          argv: copyArgv(host, toplevel.out, { noCheckSigs: deps.noCheckSigs }),
          env,
        }),
    );
  }

  // The current generation and the closure diff against the current system, in one call.
  update("diffing");
  const probeOut = await step(
    "diff",
    async () => (await remote(probeCommand(toplevel.out))).stdout,
  );
  const [facts = "", diff] = probeOut.split(`${DIFF_MARKER}\n`);
  const probe = parseKeyValues(facts);
  if (probe.gen && /^\d+$/.test(probe.gen)) report.previousGeneration = Number(probe.gen);
  const before = probe.profile ?? probe.current;
  if (before !== undefined && diff !== undefined) {
    report.closureDiff = diff.trimEnd();
    progress.note(
      `${host.host}: closure diff ${before} → ${toplevel.out}\n${
        indent(report.closureDiff || "(no version changes)")
      }`,
    );
  }

  if (deps.ask) {
    update("asking");
    if (!(await deps.ask(host.host))) {
      throw new StepError("ask", "Not activated: the answer was no");
    }
  }

  if (host.mode === "dry-activate") {
    update("activating", "dry-activate");
    const out = await step(
      "activate",
      () => remote(dryActivateCommand(host, toplevel.out), { root: true }),
    );
    progress.note(`${host.host}: dry-activate\n${indent((out.stdout + out.stderr).trimEnd())}`);
    report.status = "dry-activated";
    return report;
  }

  // Activate under the supervisor; when the session drops, read the state over new connections.
  update("activating", host.mode);
  const dir = stateDirName();
  let state: RemoteState;
  try {
    state = parseRemoteState(
      (await remote(activateCommand(host, dir, toplevel.out), { root: true, mutates: true }))
        .stdout,
    );
  } catch (error) {
    if (!isConnectionError(error)) throw new StepError("activate", oneLineMessage(error));
    update("recovering", "activation session lost");
    state = await recover(host, dir, deps, (s) => s === "activated" || isFinalStatus(s));
  }
  applyState(report, state);
  if (state.status === "activated") await deps.hooks?.afterActivate?.(host.host);

  if (state.status === "unreachable") {
    throw new HostStepError(
      "activate",
      `Lost the host during activation${
        usesMagicRollback(host)
          ? `; it rolls back by itself ${host.confirmTimeout}s after activating`
          : ""
      }`,
      { ...report, rolledBack: usesMagicRollback(host) ? "expected" : false },
    );
  }
  if (state.status !== "activated" && state.status !== "done") {
    throw new HostStepError(
      "activate",
      `Activation failed (${state.status}); see ${dir}/activate.log on the host`,
      { ...report, rolledBack: state.status.startsWith("rolled-back") },
    );
  }

  // Health checks, each over a new connection, then the confirmation over another one.
  let healthError: string | undefined;
  if (state.status === "activated" || state.status === "done") {
    for (const check of host.healthChecks) {
      update("checking", check);
      try {
        await remote(check, { connection: "new" });
      } catch (error) {
        healthError = `Health check "${check}" failed: ${oneLineMessage(error)}`;
        break;
      }
    }
  }
  if (!usesMagicRollback(host) || state.status !== "activated") {
    if (healthError) throw new HostStepError("health", healthError, report);
    return report;
  }

  update("confirming");
  const action = healthError ? "abort" : "confirm";
  try {
    state = parseRemoteState(
      (await remote(controlCommand(host, dir, action, host.confirmTimeout + 10), {
        root: true,
        connection: "new",
      }))
        .stdout,
    );
  } catch (error) {
    if (!isConnectionError(error)) throw new StepError("confirm", oneLineMessage(error));
    update("recovering", "confirmation failed; waiting for the host's rollback");
    state = await recover(host, dir, deps, isFinalStatus);
  }
  applyState(report, state);
  if (state.status === "confirmed") {
    if (healthError) throw new HostStepError("health", healthError, report);
    return report;
  }
  const rolledBack = state.status.startsWith("rolled-back")
    ? true
    : state.status === "unreachable"
    ? "expected"
    : false;
  const why = healthError ??
    (state.status === "unreachable"
      ? `Cannot confirm: the host is unreachable; it rolls back by itself ${host.confirmTimeout}s after activating`
      : `Not confirmed: ${state.status}`);
  throw new HostStepError(healthError ? "health" : "confirm", why, { ...report, rolledBack });
}

/**
 * Reads the supervisor's state over new connections until `accept` takes it or time is up:
 * `confirmTimeout` plus a grace period, counted again while the host says it is still
 * activating (a long activation is not a lost host).
 */
async function recover(
  host: HostPlan,
  dir: string,
  deps: ExecuteDeps,
  accept: (status: string) => boolean,
): Promise<RemoteState> {
  const window = (host.confirmTimeout + (deps.recoveryGraceSeconds ?? 15)) * 1000;
  let deadline = performance.now() + window;
  let last: RemoteState | undefined;
  while (performance.now() < deadline) {
    try {
      const argv = sshArgv(host, deps.ssh, controlCommand(host, dir, "status", 2), "new");
      last = parseRemoteState((await deps.runner.run({ argv, ...sudoStdin(host, deps) })).stdout);
      if (accept(last.status)) return last;
      if (last.status === "starting" || last.status === "activating") {
        deadline = performance.now() + window;
      }
    } catch (error) {
      if (!isConnectionError(error)) throw new StepError("confirm", oneLineMessage(error));
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return last && isFinalStatus(last.status) ? last : { ...(last ?? {}), status: "unreachable" };
}

/** The sudo password on stdin, for commands run through `sudo -S`. */
function sudoStdin(host: HostPlan, deps: ExecuteDeps): { stdin?: string } {
  return deps.sudoPassword !== undefined && host.sudo === "password"
    ? { stdin: `${deps.sudoPassword}\n` }
    : {};
}

function applyState(report: HostReport, state: RemoteState): void {
  report.status = state.status;
  if (state.prevGen !== undefined) report.previousGeneration = state.prevGen;
  if (state.newGen !== undefined) report.newGeneration = state.newGen;
  if (state.activeGen !== undefined) report.activeGeneration = state.activeGen;
  report.rolledBack = state.status.startsWith("rolled-back");
}

async function hostKeyMismatch(host: HostPlan, deps: ExecuteDeps): Promise<string> {
  const pinned = deps.pinnedKeys.get(host.host);
  const expected = pinned ? await fingerprint(pinned.key) : "(none)";
  let presented = "(could not scan)";
  try {
    const scanned = keyFromKeyscan(
      await deps.runner.text({ argv: keyscanArgv(host, deps.ssh.connectTimeout) }),
    );
    if (scanned) presented = await fingerprint(scanned);
  } catch {
    // Only for the message; the refusal stands either way.
  }
  return `Host key mismatch for "${host.host}" at ${host.address}:${host.port}: expected ${expected} ` +
    `(configurations/${host.host}/ssh_host_ed25519_key.pub), the host presented ${presented}; nothing was copied`;
}

function indent(text: string): string {
  return text.split("\n").map((l) => `  ${l}`).join("\n");
}
