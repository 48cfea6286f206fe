// The pure deploy plan: which hosts, how each one is reached, built, activated and confirmed.
import { UsageError } from "../lib/errors.ts";
import {
  addressProblem,
  type FleetFacts,
  type HostFacts,
  MAX_TIMEOUT_SECONDS,
  normalizeAddress,
} from "../lib/fleet/mod.ts";

/** What `switch-to-configuration` is asked to do. */
export const DEPLOY_MODES = ["switch", "boot", "test", "dry-activate"] as const;

/** What `switch-to-configuration` is asked to do. */
export type DeployMode = (typeof DEPLOY_MODES)[number];

/** Where a host's toplevel is built. */
export type BuildOn = "local" | "remote";

/** Hosts asked for on the command line. */
export interface Selection {
  /** Host names given as arguments; they are deployed even when not deployable. */
  names: readonly string[];
  /** Every deployable host. */
  all: boolean;
  /** Deployable hosts with any of these tags. */
  tags: readonly string[];
}

/** How the hosts are deployed (the CLI flags, parsed). */
export interface DeployOptions {
  mode: DeployMode;
  /** Overrides every host's `buildOn`. */
  buildOn?: BuildOn;
  /** Overrides the address of the one selected host. */
  target?: string;
  /** How many hosts are copied, activated and confirmed at once. */
  parallel: number;
  /** How many hosts may be between activation and final answer at once (default: {@linkcode DEFAULT_MAX_ACTIVATIONS}). */
  maxActivations?: number;
  /** Magic rollback and rollback after a failed activation or health check. */
  rollback: boolean;
  /** Overrides every host's `confirmTimeout` (seconds). */
  confirmTimeout?: number;
  /** Pass --no-check-sigs to nix copy (unsigned paths, e.g. test fixtures). */
  noCheckSigs: boolean;
  /** Asks for the sudo password once and sends it on stdin (else `sudo -n`). */
  askSudoPassword: boolean;
}

/** The default of --parallel: enough for a small fleet, gentle on the deploying machine. */
export const DEFAULT_PARALLEL = 8;

/**
 * The default bound on hosts between activation and final answer (never above --parallel): the
 * confirmations that come due together stay few enough for a busy deploying machine to make
 * each one's new SSH connection well inside its window.
 */
export const DEFAULT_MAX_ACTIVATIONS = 8;

/** How root commands run on a host. */
export type Sudo = "none" | "nopasswd" | "password";

/** Everything the executor needs to deploy one host. */
export interface HostPlan {
  host: string;
  address: string;
  port: number;
  user: string;
  buildOn: BuildOn;
  mode: DeployMode;
  /** Seconds the target waits for the confirmation before it rolls back. */
  confirmTimeout: number;
  /** Seconds switch-to-configuration may run before the target kills it and rolls back. */
  activationTimeout: number;
  /** Seconds each health check may run. */
  healthCheckTimeout: number;
  /** Seconds `nix copy` to the host may run (the fact; unset: facts.ts DEFAULT_COPY_TIMEOUT). */
  copyTimeout?: number;
  healthChecks: readonly string[];
  rollback: boolean;
  sudo: Sudo;
  /** The flake attribute of the host's system. */
  toplevelAttr: string;
}

/** The whole deploy. */
export interface DeployPlan {
  flake: string;
  hosts: HostPlan[];
  parallel: number;
  /** Hosts at once between the start of their activation and their final answer. */
  maxActivations: number;
}

/**
 * The selected host names, in the order given: named hosts first, then (sorted) the
 * deployable hosts `--all` or `--tag` add. Unknown names are a usage error that lists the
 * known hosts.
 */
export function selectHosts(facts: FleetFacts, selection: Selection): string[] {
  const known = Object.keys(facts).sort();
  const unknown = selection.names.filter((name) => !(name in facts));
  if (unknown.length > 0) {
    const which = unknown.map((n) => `"${n}"`).join(", ");
    throw new UsageError(
      `Cannot deploy ${which}: no such host; known hosts: ${known.join(", ") || "(none)"}`,
    );
  }
  if (selection.names.length === 0 && !selection.all && selection.tags.length === 0) {
    throw new UsageError("Nothing to deploy: name hosts, or pass --all or --tag <tag>");
  }
  const chosen = new Set(selection.names);
  for (const name of known) {
    const host = facts[name]!;
    if (!host.deployable) continue;
    if (selection.all || host.tags.some((tag) => selection.tags.includes(tag))) chosen.add(name);
  }
  if (chosen.size === 0) {
    throw new UsageError(
      `Nothing to deploy: no deployable host has tag ${
        selection.tags.map((t) => `"${t}"`).join(" or ")
      }`,
    );
  }
  return [...chosen];
}

/** Plans the deploy of the selected hosts; pure. */
export function planDeploy(
  facts: FleetFacts,
  selection: Selection,
  options: DeployOptions & { flake: string },
): DeployPlan {
  if (!Number.isInteger(options.parallel) || options.parallel < 1) {
    throw new UsageError(`Invalid --parallel "${options.parallel}": expected a whole number ≥ 1`);
  }
  if (
    options.maxActivations !== undefined &&
    (!Number.isInteger(options.maxActivations) || options.maxActivations < 1)
  ) {
    throw new UsageError(
      `Invalid --max-activations "${options.maxActivations}": expected a whole number ≥ 1`,
    );
  }
  if (
    options.confirmTimeout !== undefined &&
    !(options.confirmTimeout >= 1 && options.confirmTimeout <= MAX_TIMEOUT_SECONDS)
  ) {
    throw new UsageError(
      `Invalid --confirm-timeout "${options.confirmTimeout}": expected 1 to ${MAX_TIMEOUT_SECONDS} seconds`,
    );
  }
  const names = selectHosts(facts, selection);
  if (options.target !== undefined && names.length !== 1) {
    throw new UsageError(
      `Cannot use --target with ${names.length} hosts: it overrides the address of one host`,
    );
  }
  const targetProblem = options.target === undefined ? undefined : addressProblem(options.target);
  if (targetProblem !== undefined) {
    throw new UsageError(`Invalid --target "${options.target}": ${targetProblem}`);
  }
  const hosts = names.map((host) => planHost(host, facts[host]!, options));
  const parallel = Math.min(options.parallel, hosts.length);
  return {
    flake: options.flake,
    hosts,
    parallel,
    maxActivations: Math.min(options.maxActivations ?? DEFAULT_MAX_ACTIVATIONS, parallel),
  };
}

function planHost(host: string, facts: HostFacts, options: DeployOptions): HostPlan {
  const sudo: Sudo = facts.user === "root"
    ? "none"
    : options.askSudoPassword
    ? "password"
    : "nopasswd";
  return {
    host,
    address: options.target === undefined ? facts.address : normalizeAddress(options.target)!,
    port: facts.port,
    user: facts.user,
    buildOn: options.buildOn ?? facts.buildOn,
    mode: options.mode,
    confirmTimeout: options.confirmTimeout ?? facts.confirmTimeout,
    activationTimeout: facts.activationTimeout,
    healthCheckTimeout: facts.healthCheckTimeout,
    copyTimeout: facts.copyTimeout,
    healthChecks: facts.healthChecks,
    rollback: options.rollback,
    sudo,
    toplevelAttr: toplevelAttr(host),
  };
}

/** The flake attribute path of a host's system closure. */
export function toplevelAttr(host: string): string {
  return `nixosConfigurations.${host}.config.system.build.toplevel`;
}

/** Whether the mode sets the system profile (`switch`, `boot`). */
export function setsProfile(mode: DeployMode): boolean {
  return mode === "switch" || mode === "boot";
}

/** Whether the mode activates the new system now (`switch`, `test`). */
export function activates(mode: DeployMode): boolean {
  return mode === "switch" || mode === "test";
}

/** Whether the host waits for a confirmation and rolls back without one. */
export function usesMagicRollback(plan: HostPlan): boolean {
  return plan.rollback && activates(plan.mode);
}

/**
 * The `--apply` function for one `nix eval --json <flake>#nixosConfigurations` that gives
 * each host's toplevel derivation and output path as `{ drv, out }` (`nix build --json` sorts
 * its output, so the derivation paths map results back to hosts; an attribute set with
 * `outPath` would turn into a string in JSON).
 */
export function toplevelsApply(hosts: readonly string[]): string {
  const list = hosts.map((h) => JSON.stringify(h)).join(" ");
  return `cs: builtins.listToAttrs (map (n: { name = n; value = { drv = ` +
    `cs.\${n}.config.system.build.toplevel.drvPath; out = ` +
    `cs.\${n}.config.system.build.toplevel.outPath; }; }) [ ${list} ])`;
}
