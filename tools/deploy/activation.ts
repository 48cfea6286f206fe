// Activation and supervision: start the supervisor (adopting or cancelling a dead deployer's),
// read its state over new connections when a session drops (with a hard deadline), confirm or
// abort, and turn the supervisor's final state into an outcome.
import { CommandError } from "../lib/errors.ts";
import { sshArgv } from "../lib/fleet/mod.ts";
import {
  activateCommand,
  controlCommand,
  rollbackSeconds,
  supervisorCheckSeconds,
} from "./commands.ts";
import type { HostRun } from "./host_run.ts";
import { deployerIsDead, deployerText } from "./owner.ts";
import type { HostOutcome, RollbackReason } from "./outcome.ts";
import { activates, usesMagicRollback } from "./plan.ts";
import {
  isFinal,
  parsePhase,
  parseRemoteState,
  type RemotePhase,
  type RemoteState,
} from "../lib/fleet/mod.ts";
import type { Step } from "./steps.ts";

/** What the activation step ended with: a state to go on from, or the host's outcome. */
export type ActivationResult = { state: RemoteState } | { outcome: HostOutcome };

/**
 * Runs the activation step. A host busy with a dead deployer's run (proven dead: a free lock
 * on its owner file, see owner.ts) is retried once with that run to adopt or cancel; any
 * other holder's is reported as busy.
 * A dropped session is followed by reading the state until the activation has an outcome, up to
 * a hard deadline (activation timeout + confirm timeout + grace).
 */
export async function activate(run: HostRun, step: Step): Promise<ActivationResult> {
  let state = await activationState(run, step);
  if (state.phase.kind === "busy") {
    const holder = state.holder ?? {};
    const dead = holder.by !== undefined &&
      (run.deps.deadDeployers?.has(holder.by) || await deployerIsDead(holder.by));
    if (holder.run && dead) {
      run.deps.progress.update(run.host.host, "activating", `taking over run ${holder.run}`);
      run.values.ids = { ...run.values.ids, adopt: holder.run };
      // The launcher waits for the old run (bounded), then for its own: both bounds.
      const retry: Step = {
        ...step,
        ...(step.timeoutSeconds !== undefined ? { timeoutSeconds: 2 * step.timeoutSeconds } : {}),
        argv: [
          ...step.argv.slice(0, -1),
          activateCommand(run.host, run.values.ids, run.values.toplevel),
        ],
      };
      state = await activationState(run, retry);
    }
    if (state.phase.kind === "busy") {
      const h = state.holder ?? {};
      return {
        outcome: {
          kind: "busy",
          cause: `host busy: deploy started at ${h.started ?? "?"} by ${deployerText(h.by)} ` +
            `(run ${h.run ?? "?"}: ${h.status ?? "?"})`,
        },
      };
    }
  }
  if (state.adopted && state.run) {
    run.values.ids = { ...run.values.ids, run: state.run, adopt: "" };
    run.report.adoptedRun = state.run;
  }
  run.apply(state);
  return { state };
}

async function activationState(run: HostRun, step: Step): Promise<RemoteState> {
  try {
    return parseRemoteState((await run.exec(step)).stdout);
  } catch (error) {
    if (!isLostSession(error)) throw error;
    run.deps.progress.update(run.host.host, "recovering", "activation session lost");
    const { host } = run;
    return await recover(
      run,
      (p) => p.kind === "activated" || p.kind === "busy" || isFinal(p),
      host.activationTimeout + supervisorCheckSeconds(host) + host.confirmTimeout + grace(run),
    );
  }
}

/** Seconds to keep trying to reach a host after its own bounds have passed. */
function grace(run: HostRun): number {
  return run.deps.recoveryGraceSeconds ?? 15;
}

/** A command that ended because the connection did (ssh's 255) or its timeout killed it. */
export function isLostSession(error: unknown): boolean {
  return error instanceof CommandError && (error.code === 255 || error.code === 124);
}

/**
 * Reads the supervisor's state over new connections until `accept` takes it, the host has no
 * state of the run (`gone`: it rebooted, or never started it), the deployer is interrupted, or
 * `seconds` have passed (a hard deadline: a host that keeps saying "activating" is bounded by
 * its own activation timeout, not waited for forever). Past the deadline the status is
 * `unknown`, with the last state read kept.
 */
export async function recover(
  run: HostRun,
  accept: (phase: RemotePhase) => boolean,
  seconds: number,
): Promise<RemoteState> {
  const { host, deps } = run;
  const deadline = performance.now() + seconds * 1000;
  let last: RemoteState | undefined;
  while (performance.now() < deadline && !deps.interrupted?.()) {
    try {
      const argv = sshArgv(
        host,
        deps.ssh,
        controlCommand(host, run.values.ids.run, "status", 2),
        "new",
      );
      const result = await deps.runner.run({
        argv,
        ...run.sudoStdin(),
        timeoutMs: (deps.ssh.connectTimeout + 10) * 1000,
      });
      last = parseRemoteState(result.stdout);
      if (accept(last.phase) || last.supervisorLost || last.phase.kind === "gone") return last;
    } catch (error) {
      if (!isLostSession(error)) throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return {
    ...(last ?? {}),
    status: "unknown",
    phase: parsePhase(undefined),
    ...(last ? { lastStatus: last.status } : {}),
  };
}

/**
 * Confirms (or, after a failed health check, aborts) over a new connection; a dropped
 * connection is followed by reading the state until it is final (bounded).
 */
export async function confirm(run: HostRun, step: Step, abort: boolean): Promise<RemoteState> {
  // An abort waits for the rollback too (its activations are bounded on the target).
  const extra = rollbackSeconds(run.host);
  const command = abort
    ? controlCommand(run.host, run.values.ids.run, "abort", run.host.confirmTimeout + extra + 10)
    : undefined;
  const argv = command === undefined ? step.argv : [...step.argv.slice(0, -1), command];
  const timeout = abort && step.timeoutSeconds !== undefined
    ? { timeoutSeconds: step.timeoutSeconds + extra }
    : {};
  let state: RemoteState;
  try {
    state = parseRemoteState((await run.exec({ ...step, ...timeout, argv })).stdout);
  } catch (error) {
    if (!isLostSession(error)) throw error;
    run.deps.progress.update(
      run.host.host,
      "recovering",
      "confirmation failed; reading the host's state",
    );
    // Not the rollback's bound: a host that answers "rolling-back" at the deadline is
    // reported with that (an unreachable one would hold the deployer for it).
    state = await recover(run, isFinal, run.host.confirmTimeout + grace(run));
  }
  run.apply(state);
  return state;
}

/**
 * Takes the built-in check's result from the activation's state: the health failure to report
 * ("Built-in check failed: …"; the deployer then aborts, and the host rolls back), or
 * undefined. A state without a result (a run started by an older deployer) leaves the check to
 * a step of its own.
 */
export function builtInCheck(run: HostRun, state: RemoteState): string | undefined {
  run.values.failedBefore = state.failedBefore ?? [];
  run.values.unitsCheckPending = activates(run.host.mode) && state.unitsCheck === undefined;
  return state.unitsCheck?.passed === false
    ? `Built-in check failed: ${state.unitsCheck.detail}`
    : undefined;
}

/** The outcome of a supervisor's state that is no success, or undefined for a success. */
export function stateOutcome(
  run: HostRun,
  state: RemoteState & { lastStatus?: string },
  step: "activate" | "confirm",
  why?: string,
): HostOutcome | undefined {
  const { status, phase } = state;
  if (phase.kind === "confirmed" || phase.kind === "done" || phase.kind === "activated") {
    return undefined;
  }
  const log = " (log: /nix/var/devops-deploy/last-activate.log on the host)";
  const prefix = why ? `${why}; ` : "";
  const rolled = phase.kind === "rolled-back" || phase.kind === "rollback-failed" ||
      phase.kind === "superseded"
    ? phase
    : undefined;
  // Before the rolled-back match: an older supervisor wrote `rolled-back-*` with superseded_by.
  if (state.supersededBy !== undefined || rolled?.kind === "superseded") {
    // Only a run that made a generation (not --mode test) has one to delete.
    const deleted = rolled?.kind === "superseded" && state.newGen !== undefined &&
        state.newGen !== state.prevGen
      ? `; this run's generation ${state.newGen} was deleted`
      : "";
    // The profile where this run left it, yet another system runs: activated by hand (a test).
    const what = state.supersededCurrent !== undefined && state.supersededBy === state.newGen
      ? `another system was activated on the host during the run (${state.supersededCurrent})`
      : `the profile moved to generation ${
        state.supersededBy ?? "?"
      } during the run (someone else switched the host)`;
    return {
      kind: "superseded",
      ...(rolled ? { reason: rolled.why as RollbackReason } : {}),
      cause: `${prefix}not rolled back: ${what}${deleted}`,
    };
  }
  if (rolled) {
    const reason = rolled.why as RollbackReason;
    const back = state.activeGen !== undefined ? ` to generation ${state.activeGen}` : "";
    const cause = why ??
      (reason === "activation"
        ? `switch-to-configuration exited ${
          state.activateCode ?? "non-zero"
        }; rolled back${back}${log}`
        : reason === "activation-timeout"
        ? `activation ran over its ${run.host.activationTimeout} s timeout; rolled back${back}`
        : reason === "timeout"
        ? `not confirmed within ${run.host.confirmTimeout} s; rolled back${back}`
        : reason === "state-removed"
        ? `the run's state dir on the host was removed during the run; rolled back${back}`
        : `rolled back${back}`);
    return rolled.kind === "rolled-back" ? { kind: "rolled-back", reason, cause } : {
      kind: "rollback-failed",
      reason,
      cause: `rollback failed${state.rollbackError ? ` (${state.rollbackError})` : ""}: ${cause}`,
    };
  }
  if (phase.kind === "failed") {
    return {
      kind: "activation-failed",
      status,
      cause: `${phase.why} failed; no rollback (--no-rollback)${log}`,
    };
  }
  if (phase.kind === "gone") {
    const runs = state.current === undefined
      ? "what it runs is not known"
      : state.current === run.values.toplevel
      ? "it runs the new system, never confirmed"
      : `it runs ${state.current}`;
    return {
      kind: "unknown",
      step,
      lastStatus: status,
      unguarded: true,
      cause: `${prefix}the host has no state of this run (rebooted, or its state was removed): ` +
        `${runs}, and nothing on it rolls back by itself: check the host and deploy again`,
    };
  }
  if (state.supervisorLost) {
    return {
      kind: "unknown",
      step,
      lastStatus: status,
      unguarded: true,
      cause: `${prefix}the deploy's supervisor on the host died (last seen: ${status}); ` +
        "the host does not roll back by itself: deploy again (the next run undoes the profile " +
        "change of this one) or check the host",
    };
  }
  const last = state.lastStatus ?? (status === "unknown" ? undefined : status);
  const expect = last === "rolling-back"
    ? "; it was rolling back (each of its activations bounded by " +
      `${run.host.activationTimeout} s): see last-deploy on the host`
    : usesMagicRollback(run.host)
    ? `; it rolls back by itself ${run.host.confirmTimeout} s after activating unless confirmed`
    : "";
  return {
    kind: "unknown",
    step,
    ...(last ? { lastStatus: last } : {}),
    cause: `${prefix}no final answer from the host${last ? ` (last seen: ${last})` : ""}${expect}`,
  };
}
