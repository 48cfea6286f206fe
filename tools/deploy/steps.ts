// The deploy as data: per host, the ordered list of steps (argv, what it changes, its timeout).
// The executor runs exactly this list and --dry-run prints it; nothing else builds commands.
import {
  closeMasterArgv,
  type Connection,
  masterArgv,
  sshArgv,
  type SshContext,
} from "../lib/fleet/mod.ts";
import { formatCommand, shellQuote } from "../lib/quote.ts";
import {
  activateCommand,
  buildArgv,
  controlCommand,
  copyArgv,
  dryActivateCommand,
  evalToplevelsArgv,
  healthCheckCommand,
  launcherWaitSeconds,
  nixSshEnv,
  probeCommand,
  realiseCommand,
  type RunIds,
  unitsCheckCommand,
} from "./commands.ts";
import { DEFAULT_COPY_TIMEOUT } from "../lib/fleet/mod.ts";
import { activates, type DeployPlan, type HostPlan, usesMagicRollback } from "./plan.ts";
import {
  CONTROL_SCRIPT,
  HEALTH_CHECK_SCRIPT,
  LAUNCHER_SCRIPT,
  PROBE_SCRIPT,
  SUPERVISOR_SCRIPT,
  UNITS_CHECK_SCRIPT,
} from "../lib/fleet/mod.ts";

/** Seconds a shared connection outlives its last use: short, so a killed deployer leaves none for long. */
export const CONTROL_PERSIST_SECONDS = 60;
/** Seconds for the probe and closure diff. */
export const PROBE_TIMEOUT_SECONDS = 120;
/** Seconds the confirmation waits on the target for the supervisor's final state. */
export const CONFIRM_GRACE_SECONDS = 10;
/** Seconds the deployer waits for a health check past its bound on the target. */
export const HEALTH_CHECK_GRACE_SECONDS = 10;

/** What a step is. */
export type StepId =
  | "open-connection"
  | "copy"
  | "copy-derivation"
  | "build-on-target"
  | "diff"
  | "dry-activate"
  | "activate"
  | "check-units"
  | "health-check"
  | "confirm"
  | "close-connection";

/** One command of a host's deploy. */
export interface Step {
  id: StepId;
  argv: readonly string[];
  env?: Record<string, string>;
  /** What it changes on the host ("" for nothing): --dry-run runs no step that changes something. */
  changes: string;
  /** Seconds before the deployer kills it; undefined only for builds, whose length is the system's. */
  timeoutSeconds?: number;
  /** Runs as root through `sudo -S`: gets the sudo password on stdin. */
  root?: boolean;
  /** The health check this step runs (health-check steps). */
  check?: string;
  /**
   * The SSH connection its command goes through: the host's shared one (through the master,
   * when the deploy has a control folder) or a new one of its own; unset for the steps that
   * open the master and for local commands.
   */
  connection?: Connection;
}

/** What the steps of a host need that is known only while the deploy runs. */
export interface HostValues {
  /** The toplevel's store path (a placeholder before it is built). */
  toplevel: string;
  /** The toplevel's derivation (building on the target). */
  drv: string;
  ids: RunIds;
  /** Units failed before the activation, from the activation's output. */
  failedBefore: readonly string[];
  /**
   * The activation's output had no result of the built-in check (a run started by an older
   * deployer): the check runs as a step of its own. Unset: the supervisor runs it.
   */
  unitsCheckPending?: boolean;
}

/** Placeholders for --dry-run, before anything is built or run. */
export function placeholderValues(host: HostPlan): HostValues {
  return {
    toplevel: `<toplevel of ${host.host}>`,
    drv: `<drv of ${host.host}>`,
    ids: { run: "<run id>", by: "<user@machine:pid:dir>" },
    failedBefore: [],
  };
}

/** Options of {@linkcode hostSteps}. */
export interface StepOptions {
  noCheckSigs: boolean;
}

/** The ordered steps of one host's deploy. */
export function hostSteps(
  host: HostPlan,
  ssh: SshContext,
  values: HostValues,
  options: StepOptions,
): Step[] {
  const remote = (
    id: StepId,
    command: string,
    rest: Omit<Step, "id" | "argv">,
  ): Step => {
    const connection = rest.connection ?? "shared";
    return { id, argv: sshArgv(host, ssh, command, connection), ...rest, connection };
  };
  const steps: Step[] = [];
  if (ssh.controlDir !== undefined) {
    steps.push({
      id: "open-connection",
      argv: masterArgv(host, ssh, CONTROL_PERSIST_SECONDS),
      changes: "",
      timeoutSeconds: ssh.connectTimeout + 5,
    });
  }
  const env = nixSshEnv(host, ssh);
  if (host.buildOn === "remote") {
    steps.push({
      id: "copy-derivation",
      argv: copyArgv(host, values.drv, { noCheckSigs: options.noCheckSigs, derivation: true }),
      env,
      connection: "shared",
      changes: "adds the derivation to the target's store",
      timeoutSeconds: copyTimeout(host),
    });
    steps.push(
      remote("build-on-target", realiseCommand(values.drv), {
        changes: "builds the system in the target's store",
      }),
    );
  } else {
    steps.push({
      id: "copy",
      argv: copyArgv(host, values.toplevel, { noCheckSigs: options.noCheckSigs }),
      env,
      connection: "shared",
      changes: "adds the system's closure to the target's store",
      timeoutSeconds: copyTimeout(host),
    });
  }
  steps.push(
    remote("diff", probeCommand(values.toplevel), {
      changes: "",
      timeoutSeconds: PROBE_TIMEOUT_SECONDS,
    }),
  );
  if (host.mode === "dry-activate") {
    steps.push(
      remote("dry-activate", dryActivateCommand(host, values.toplevel), {
        changes: "",
        timeoutSeconds: host.activationTimeout,
        root: true,
      }),
    );
  } else {
    steps.push(
      remote("activate", activateCommand(host, values.ids, values.toplevel), {
        changes: `takes the host's deploy lock, sets the system profile (${host.mode}) and runs ` +
          "switch-to-configuration under a supervisor that rolls back without a confirmation" +
          (activates(host.mode) ? "; then the built-in check that no unit failed since" : ""),
        timeoutSeconds: launcherWaitSeconds(host) + 30,
        root: true,
      }),
    );
    // The checks share the host's connection (ssh connects anew if it dropped): a new
    // connection per check cost a handshake each, and the confirmation's own new connection is
    // what proves that the new system accepts SSH.
    if (activates(host.mode) && values.unitsCheckPending) {
      steps.push(
        remote("check-units", healthCheckCommand(host, unitsCheckCommand(values.failedBefore)), {
          changes: "",
          timeoutSeconds: host.healthCheckTimeout + HEALTH_CHECK_GRACE_SECONDS,
        }),
      );
    }
    for (const check of host.healthChecks) {
      steps.push(
        // Bounded on the target (HEALTH_CHECK_SCRIPT); the deployer's own bound is the fallback.
        remote("health-check", healthCheckCommand(host, check), {
          changes: "",
          timeoutSeconds: host.healthCheckTimeout + HEALTH_CHECK_GRACE_SECONDS,
          check,
        }),
      );
    }
    if (usesMagicRollback(host)) {
      steps.push(
        remote(
          "confirm",
          controlCommand(host, values.ids.run, "confirm", confirmWaitSeconds(host)),
          {
            changes: "confirms the new system (else the host rolls back by itself)",
            timeoutSeconds: confirmWaitSeconds(host) + ssh.connectTimeout + 10,
            root: true,
            connection: "new",
          },
        ),
      );
    }
  }
  if (ssh.controlDir !== undefined) {
    steps.push({
      id: "close-connection",
      argv: closeMasterArgv(host, ssh),
      // It asks the master to exit through the control socket, as shared commands reach it.
      connection: "shared",
      changes: "",
      timeoutSeconds: 10,
    });
  }
  return steps;
}

/** Seconds a copy to the host may run (its `copyTimeout` fact). */
export function copyTimeout(host: HostPlan): number {
  return host.copyTimeout ?? DEFAULT_COPY_TIMEOUT;
}

/** Seconds the confirmation waits on the target for a final state. */
export function confirmWaitSeconds(host: HostPlan): number {
  return host.confirmTimeout + CONFIRM_GRACE_SECONDS;
}

/** The steps run once for all hosts before theirs: evaluate and build the toplevels. */
export interface BuildStep {
  id: "build" | "eval";
  argv: readonly string[];
  changes: string;
  hosts: readonly string[];
}

/**
 * One `nix build` of the flake attribute when one host is built here (nothing to map back),
 * else one evaluation of every host's derivation and one `nix build` of all locally built ones
 * (`drvs`: the derivations, placeholders until the evaluation gives them).
 */
export function buildSteps(plan: DeployPlan, drvs?: readonly string[]): BuildStep[] {
  const [only] = plan.hosts;
  if (plan.hosts.length === 1 && only!.buildOn === "local") {
    return [{
      id: "build",
      argv: buildArgv([`${plan.flake}#${only!.toplevelAttr}`]),
      changes: "adds the system to the local store",
      hosts: [only!.host],
    }];
  }
  const local = plan.hosts.filter((h) => h.buildOn === "local");
  const steps: BuildStep[] = [evalStep(plan.flake, plan.hosts.map((h) => h.host))];
  if (local.length > 0) {
    steps.push(
      buildDrvsStep(drvs ?? local.map((h) => `<drv of ${h.host}>`), local.map((h) => h.host)),
    );
  }
  return steps;
}

/** One evaluation of the hosts' toplevel derivations and output paths. */
export function evalStep(flake: string, hosts: readonly string[]): BuildStep {
  return { id: "eval", argv: evalToplevelsArgv(flake, hosts), changes: "", hosts };
}

/** One `nix build` of the derivations of all locally built hosts. */
export function buildDrvsStep(drvs: readonly string[], hosts: readonly string[]): BuildStep {
  return {
    id: "build",
    argv: buildArgv(drvs, true),
    changes: "adds the systems to the local store",
    hosts,
  };
}

/** The remote scripts (lib/fleet/remote/) by the name a shortened step shows instead of their text. */
const SCRIPT_NAMES: [string, string][] = [
  [SUPERVISOR_SCRIPT, "<SUPERVISOR_SCRIPT>"],
  [LAUNCHER_SCRIPT, "<LAUNCHER_SCRIPT>"],
  [CONTROL_SCRIPT, "<CONTROL_SCRIPT>"],
  [PROBE_SCRIPT, "<PROBE_SCRIPT>"],
  [UNITS_CHECK_SCRIPT, "<UNITS_CHECK_SCRIPT>"],
  [HEALTH_CHECK_SCRIPT, "<HEALTH_CHECK_SCRIPT>"],
];

/**
 * A step as a person reads it: environment, command line, its timeout, what it changes. The
 * remote scripts (lib/fleet/remote/) show by name unless `full` (--verbose) asks for their text.
 */
export function describeStep(step: Step | BuildStep, full = false): string {
  const env = "env" in step && step.env
    ? Object.entries(step.env).map(([k, v]) => `${k}=${formatCommand([v])} `).join("")
    : "";
  const argv = full
    ? step.argv
    : step.argv.map((arg) =>
      SCRIPT_NAMES.reduce((text, [script, name]) => text.replaceAll(shellQuote(script), name), arg)
    );
  const bound = "timeoutSeconds" in step && step.timeoutSeconds !== undefined
    ? ` [timeout ${step.timeoutSeconds}s]`
    : "";
  const changes = step.changes ? ` [changes: ${step.changes}]` : "";
  return `${step.id}: ${env}${formatCommand(argv)}${bound}${changes}`;
}
