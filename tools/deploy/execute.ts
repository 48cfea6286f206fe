// The deploy executor: builds once, then runs each host's list of steps (steps.ts) with a
// bound on parallelism (tools/lib/pool.ts) and the scheduling rule of schedule.ts
// (confirmations first); a failing host never stops the others.
import { mapPool } from "../lib/pool.ts";
import { activate, builtInCheck, confirm, stateOutcome } from "./activation.ts";
import { buildToplevels, type Toplevels } from "./build.ts";
import { newRunId } from "./commands.ts";
import { type HostOutcome, isSuccess, shortCause } from "./outcome.ts";
import { type DeployPlan, type HostPlan, usesMagicRollback } from "./plan.ts";
import type { DeployReport, HostReport, StepTiming } from "./report.ts";
import { DeployScheduler, type GateKind } from "./schedule.ts";
import { hostSteps, type Step, type StepId } from "./steps.ts";
import { connect, copy, indent, probe } from "./transfer.ts";
import { type ExecuteDeps, HostRun } from "./host_run.ts";

export type { DeployHooks, ExecuteDeps } from "./host_run.ts";

/** Runs the plan; never throws for a host's failure, only reports it. */
export async function executeDeploy(plan: DeployPlan, deps: ExecuteDeps): Promise<DeployReport> {
  const started = performance.now();
  const clock = () => Math.round(performance.now() - started);
  const scheduler = new DeployScheduler({ maxActivations: plan.maxActivations });
  const buildTimings: StepTiming[] = [];
  const outcomes = new Map<string, { outcome: HostOutcome; report: HostReport }>();
  const failEarly = (host: HostPlan, step: "eval" | "build", error: unknown) => {
    const cause = shortCause(error, { verbose: deps.runner.verbose });
    const outcome: HostOutcome = deps.interrupted?.()
      ? { kind: "interrupted", step, cause: "interrupted" }
      : { kind: "failed", step, cause };
    outcomes.set(host.host, { outcome, report: baseReport(host) });
    deps.progress.update(host.host, "failed", `${step}: ${outcome.cause}`);
  };

  // The shared connections of the first hosts to run open while the hosts are evaluated and
  // built; the others' open when their turn comes (through the scheduler, like a copy).
  const runs = new Map(plan.hosts.map((h) => [h.host, newHostRun(h, deps, scheduler, clock)]));
  const opened = new Map<string, Promise<unknown>>();
  const opening = new Map<string, Promise<unknown>>();
  for (const run of [...runs.values()].slice(0, plan.parallel)) {
    const open = hostSteps(run.host, deps.ssh, run.values, deps).find((s) =>
      s.id === "open-connection"
    );
    if (open === undefined) continue;
    const timing: StepTiming = { step: open.id, startMs: clock(), endMs: 0 };
    const connection = run.exec(open).finally(() => {
      timing.endMs = clock();
      run.timings.push(timing);
    });
    connection.catch(() => {}); // awaited (and reported) by the host's own step
    opening.set(run.host.host, connection);
    opened.set(run.host.host, connection);
  }
  try {
    for (const h of plan.hosts) deps.progress.update(h.host, "evaluating");
    const buildStart = clock();
    const toplevels: Toplevels = await buildToplevels(plan, {
      runner: deps.runner,
      fail: failEarly,
      building: (hosts) => hosts.forEach((h) => deps.progress.update(h.host, "building")),
      ...(deps.interrupted ? { interrupted: deps.interrupted } : {}),
    }).finally(() => buildTimings.push({ step: "build", startMs: buildStart, endMs: clock() }));
    const queue = plan.hosts.filter((h) => !outcomes.has(h.host));
    for (const h of queue) deps.progress.update(h.host, "waiting");
    await mapPool(queue, plan.parallel, async (host) => {
      const run = runs.get(host.host)!;
      run.values.toplevel = toplevels[host.host]!.out;
      run.values.drv = toplevels[host.host]!.drv;
      run.report.path = run.values.toplevel;
      const outcome = await deployHost(run, opening.get(host.host), (connection) => {
        connection.catch(() => {});
        opened.set(host.host, connection);
      }).catch((error): HostOutcome =>
        deps.interrupted?.()
          ? { kind: "interrupted", step: run.current ?? "open-connection", cause: "interrupted" }
          : {
            kind: "failed",
            step: run.current ?? "open-connection",
            cause: shortCause(error, { verbose: deps.runner.verbose }),
          }
      ).finally(() => scheduler.settled(host.host));
      outcomes.set(host.host, { outcome, report: run.report });
      if (isSuccess(outcome)) deps.progress.update(host.host, "ok", run.report.status ?? "");
      else deps.progress.update(host.host, "failed", outcome.cause);
    });
  } finally {
    // Close every shared connection that opened, even after an interruption.
    const closer = deps.cleanupRunner ?? deps.runner;
    await Promise.all([...opened].map(async ([name, connection]) => {
      if (!(await connection.then(() => true, () => false))) return;
      const run = runs.get(name)!;
      const close = hostSteps(run.host, deps.ssh, run.values, deps).find((s) =>
        s.id === "close-connection"
      );
      if (close) {
        await closer.run({ argv: close.argv, okCodes: [255], timeoutMs: 10_000 }).catch(() => {});
      }
    }));
  }
  deps.progress.done();
  const hosts = plan.hosts.map((h) => {
    const { outcome, report } = outcomes.get(h.host) ?? {
      outcome: { kind: "interrupted", step: "build", cause: "interrupted" } as HostOutcome,
      report: baseReport(h),
    };
    const timings = [...buildTimings, ...(runs.get(h.host)?.timings ?? [])];
    return finalReport(h, { ...report, steps: timings }, outcome, performance.now() - started);
  });
  return {
    mode: plan.hosts[0]?.mode ?? "switch",
    ok: hosts.every((h) => h.result === "ok"),
    hosts,
  };
}

function newHostRun(
  host: HostPlan,
  deps: ExecuteDeps,
  scheduler: DeployScheduler,
  clock: () => number,
): HostRun {
  return new HostRun(
    host,
    {
      toplevel: `<toplevel of ${host.host}>`,
      drv: `<drv of ${host.host}>`,
      ids: { run: newRunId(), by: deps.deployer },
      failedBefore: [],
    },
    deps,
    scheduler,
    clock,
  );
}

/** The gate a step passes before it starts (schedule.ts); undefined: it starts at once. */
function gateOf(step: StepId): GateKind | undefined {
  switch (step) {
    case "open-connection":
    case "copy":
    case "copy-derivation":
    case "build-on-target":
    case "dry-activate":
      return "start";
    case "activate":
      return "activate";
    default:
      return undefined;
  }
}

function baseReport(host: HostPlan): HostReport {
  return { host: host.host, address: host.address, result: "ok", rolledBack: false, durationMs: 0 };
}

/** The names the report has used for failed steps (kept for --json readers). */
const REPORT_STEP: Record<string, string> = {
  "open-connection": "connect",
  "copy": "copy",
  "copy-derivation": "build",
  "build-on-target": "build",
  "diff": "diff",
  "dry-activate": "activate",
  "activate": "activate",
  "check-units": "health",
  "health-check": "health",
  "confirm": "confirm",
  "close-connection": "connect",
  "eval": "eval",
  "build": "build",
  "ask": "ask",
};

/** Steps during which the host's supervisor has started (it rolls back without an answer). */
const ACTIVATED_BY: string[] = ["activate", "check-units", "health-check", "confirm"];

function finalReport(
  host: HostPlan,
  report: HostReport,
  outcome: HostOutcome,
  elapsed: number,
): HostReport {
  const final: HostReport = { ...report, outcome, durationMs: Math.round(elapsed) };
  if (isSuccess(outcome)) return { ...final, result: "ok" };
  final.result = "failed";
  final.error = outcome.cause;
  switch (outcome.kind) {
    case "failed":
    case "interrupted":
      final.failedStep = REPORT_STEP[outcome.step] ?? outcome.step;
      break;
    case "busy":
      final.failedStep = "activate";
      break;
    case "rolled-back":
    case "rollback-failed":
    case "superseded":
      final.failedStep = outcome.reason === "health-check"
        ? "health"
        : outcome.reason === "timeout"
        ? "confirm"
        : "activate";
      break;
    case "unknown":
      final.failedStep = REPORT_STEP[outcome.step] ?? outcome.step;
      break;
    default:
      final.failedStep = "activate";
  }
  // Interrupted before its activation started (e.g. waiting for a permit), a host has nothing
  // to roll back.
  const activated = outcome.kind === "interrupted" && ACTIVATED_BY.includes(outcome.step) &&
    !(outcome.before && outcome.step === "activate");
  // A host that lost the run's state (`gone`) or whose supervisor died rolls back by nothing.
  const guarded = outcome.kind === "unknown" && !outcome.unguarded;
  final.rolledBack = outcome.kind === "rolled-back" ? true : (guarded || activated) &&
      usesMagicRollback(host)
    ? "expected"
    : false;
  return final;
}

/**
 * Runs one host's steps in order, each gated step once the scheduler lets it start, and
 * records their times. `opened`: the shared connection opened during the build, if it was;
 * `opening` is told of one this host opens itself (so it is closed at the end).
 */
async function deployHost(
  run: HostRun,
  opened: Promise<unknown> | undefined,
  opening: (connection: Promise<unknown>) => void,
): Promise<HostOutcome> {
  const { host, deps } = run;
  let steps = hostSteps(host, deps.ssh, run.values, deps);
  for (let i = 0; i < steps.length; i++) {
    const step = steps[i]!;
    if (deps.interrupted?.()) {
      return interruptedBefore(step.id);
    }
    if (step.id === "open-connection" && opened !== undefined) {
      // Opened during the build, and timed there.
      await runStep(run, step, opened, opening);
      continue;
    }
    const gate = gateOf(step.id);
    const queuedMs = run.clock();
    if (gate !== undefined) {
      const reason = run.scheduler.waitReason(host.host, gate);
      if (reason !== undefined) {
        run.update(
          "waiting",
          reason === "activation slot"
            ? `for an activation slot (--max-activations ${run.scheduler.maxActivations})`
            : "other hosts' confirmations first",
        );
      }
      await run.scheduler.admit(host.host, gate);
      if (deps.interrupted?.()) {
        return interruptedBefore(step.id);
      }
    }
    const timing: StepTiming = {
      step: step.id,
      ...(gate !== undefined ? { queuedMs } : {}),
      startMs: run.clock(),
      endMs: 0,
    };
    try {
      const result = await runStep(run, step, undefined, opening);
      if (result === "activated") {
        // The checks and the confirmation name the run that was adopted, if one was.
        steps = [
          ...steps.slice(0, i + 1),
          ...hostSteps(host, deps.ssh, run.values, deps).slice(i + 1),
        ];
      } else if (result !== undefined) {
        return result;
      }
    } finally {
      timing.endMs = run.clock();
      run.timings.push(timing);
    }
  }
  if (run.healthError !== undefined) {
    return { kind: "failed", step: "health-check", cause: run.healthError };
  }
  return run.report.status === "confirmed" ? { kind: "confirmed" } : { kind: "done" };
}

function interruptedBefore(step: StepId): HostOutcome {
  return { kind: "interrupted", step, cause: `interrupted before ${step}`, before: true };
}

/**
 * Runs one step of a host: undefined to go on, "activated" once the activation has ended well
 * (its window opened), or the host's outcome.
 */
async function runStep(
  run: HostRun,
  step: Step,
  opened: Promise<unknown> | undefined,
  opening: (connection: Promise<unknown>) => void,
): Promise<HostOutcome | "activated" | undefined> {
  const { host, deps } = run;
  switch (step.id) {
    case "open-connection": {
      run.update("connecting");
      if (opened === undefined) {
        const connection = run.exec(step);
        opening(connection);
        await connect(run, step, connection);
      } else {
        await connect(run, step, opened);
      }
      break;
    }
    case "copy":
      run.update("copying");
      await copy(run, step);
      break;
    case "copy-derivation":
      run.update("building", "on the target");
      await copy(run, step);
      break;
    case "build-on-target":
      run.update("building", "on the target");
      await run.exec(step);
      break;
    case "diff":
      run.update("diffing");
      await probe(run, step);
      break;
    case "dry-activate": {
      if (!(await approved(run))) {
        return { kind: "failed", step: "ask", cause: "not activated: the answer was no" };
      }
      run.update("activating", "dry-activate");
      const out = await run.exec(step);
      deps.progress.note(
        `${host.host}: dry-activate\n${indent((out.stdout + out.stderr).trimEnd())}`,
      );
      run.report.status = "dry-activated";
      return { kind: "dry-activated" };
    }
    case "activate": {
      if (!(await approved(run))) {
        return { kind: "failed", step: "ask", cause: "not activated: the answer was no" };
      }
      run.update("activating", host.mode);
      const result = await activate(run, step);
      if ("outcome" in result) return result.outcome;
      const failed = stateOutcome(run, result.state, "activate");
      if (failed) return failed;
      run.activated = true;
      if (usesMagicRollback(host) && result.state.phase.kind === "activated") {
        run.scheduler.windowOpened(host.host, host.confirmTimeout);
      }
      await deps.hooks?.afterActivate?.(host.host);
      run.healthError = builtInCheck(run, result.state);
      return "activated";
    }
    case "check-units":
    case "health-check":
      if (run.healthError !== undefined || !run.activated) break;
      run.update("checking", step.check ?? "no unit failed since the activation");
      try {
        await run.exec(step);
      } catch (error) {
        if (deps.interrupted?.()) {
          return { kind: "interrupted", step: step.id, cause: `interrupted during ${step.id}` };
        }
        const what = step.check === undefined ? "Built-in check" : `Health check "${step.check}"`;
        run.healthError = `${what} failed: ${
          shortCause(error, {
            verbose: deps.runner.verbose,
            timeoutSeconds: host.healthCheckTimeout,
          })
        }`;
      }
      break;
    case "confirm": {
      run.update("confirming", run.healthError ? "aborting" : undefined);
      const state = await confirm(run, step, run.healthError !== undefined);
      const failed = stateOutcome(run, state, "confirm", run.healthError);
      if (failed) return failed;
      if (run.healthError !== undefined) {
        // The supervisor was told to roll back yet says confirmed: report it as it is.
        return { kind: "failed", step: "health-check", cause: run.healthError };
      }
      return { kind: "confirmed", ...(run.report.adoptedRun ? { adopted: true } : {}) };
    }
    case "close-connection":
      break;
  }
  return undefined;
}

async function approved(run: HostRun): Promise<boolean> {
  if (!run.deps.ask) return true;
  run.update("asking");
  return await run.deps.ask(run.host.host);
}
