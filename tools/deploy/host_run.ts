// One host's deploy while it runs (HostRun) and what the executor needs (ExecuteDeps): the
// shared ground of execute.ts, activation.ts and transfer.ts, so none of them imports another.
import type { CommandResult, Runner } from "../lib/runner.ts";
import { closeMasterArgv, type PinnedKey, type SshContext } from "../lib/fleet/mod.ts";
import type { HostPlan } from "./plan.ts";
import type { Phase, Progress } from "./progress.ts";
import type { RemoteState } from "../lib/fleet/mod.ts";
import type { HostReport, StepTiming } from "./report.ts";
import type { DeployScheduler } from "./schedule.ts";
import type { HostValues, Step, StepId } from "./steps.ts";

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
  /** This deployer's id (owner.ts), recorded with the host's lock. */
  deployer: string;
  /** Deployers proven dead (their owner file's lock was free) before their folders were removed. */
  deadDeployers?: ReadonlySet<string>;
  /** Asks a person to activate a host; undefined: do not ask. */
  ask?: (host: string) => Promise<boolean>;
  /** The sudo password, sent on stdin to `sudo -S` (never on a command line). */
  sudoPassword?: string;
  hooks?: DeployHooks;
  /** Seconds to keep trying to reach a host after its own bounds have passed. */
  recoveryGraceSeconds?: number;
  /** True once SIGINT/SIGTERM/SIGHUP arrived: no new step starts. */
  interrupted?: () => boolean;
  /** Runs the cleanup commands (closing connections) even after an interruption. */
  cleanupRunner?: Runner;
}

/** One host's deploy while it runs: its plan, values, report so far and the deps. */
export class HostRun {
  readonly report: HostReport;
  /** The step running now (for an interruption's report). */
  current: StepId | undefined;
  /** The steps that ran, with their times (the report's `steps`). */
  readonly timings: StepTiming[] = [];
  /** The activation ended well: the checks and the confirmation run. */
  activated = false;
  /** Why a health check failed (the confirmation then aborts). */
  healthError: string | undefined;

  constructor(
    readonly host: HostPlan,
    readonly values: HostValues,
    readonly deps: ExecuteDeps,
    readonly scheduler: DeployScheduler,
    /** Milliseconds since the deploy started. */
    readonly clock: () => number,
  ) {
    this.report = {
      host: host.host,
      address: host.address,
      result: "ok",
      rolledBack: false,
      path: values.toplevel,
      durationMs: 0,
    };
  }

  /** Runs a step with its timeout; root steps get the sudo password on stdin. */
  async exec(step: Step): Promise<CommandResult> {
    this.current = step.id;
    const command = this.deps.runner.run({
      argv: step.argv,
      ...(step.env ? { env: step.env } : {}),
      ...(step.root ? this.sudoStdin() : {}),
      ...(step.changes ? { mutates: true } : {}),
      ...(step.timeoutSeconds !== undefined ? { timeoutMs: step.timeoutSeconds * 1000 } : {}),
    });
    if (step.timeoutSeconds === undefined || !this.throughMaster(step)) return await command;
    // ssh hands a command on the shared connection its output through the connection's
    // master: killed at its timeout, the command still waits for the host's side to end (never,
    // if it hangs there). So at the timeout the master ends too; later steps connect anew.
    const closer = this.deps.cleanupRunner ?? this.deps.runner;
    const timer = setTimeout(() => {
      closer.run({
        argv: closeMasterArgv(this.host, this.deps.ssh),
        okCodes: [255],
        timeoutMs: 10_000,
      }).catch(() => {});
    }, step.timeoutSeconds * 1000 + 1000);
    try {
      return await command;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether the step's ssh (or nix copy's ssh) goes through the host's master connection. */
  throughMaster(step: Step): boolean {
    return step.connection === "shared" && this.deps.ssh.controlDir !== undefined;
  }

  /** The sudo password on stdin, for commands run through `sudo -S`. */
  sudoStdin(): { stdin?: string } {
    return this.deps.sudoPassword !== undefined && this.host.sudo === "password"
      ? { stdin: `${this.deps.sudoPassword}\n` }
      : {};
  }

  /** Takes the generations and status the supervisor reported. */
  apply(state: RemoteState): void {
    if (state.phase.kind !== "unknown" && state.phase.kind !== "gone") {
      this.report.status = state.status;
    }
    if (state.prevGen !== undefined) this.report.previousGeneration = state.prevGen;
    if (state.newGen !== undefined) this.report.newGeneration = state.newGen;
    if (state.activeGen !== undefined) this.report.activeGeneration = state.activeGen;
  }

  update(phase: Phase, detail?: string): void {
    this.deps.progress.update(this.host.host, phase, detail);
  }
}
