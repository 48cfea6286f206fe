// Every command the deploy runs, built from the plan (pure): local nix, ssh, and remote shell.
import { type SshContext, sshOptions, type SshTarget } from "../lib/fleet/mod.ts";
import { shellQuote } from "../lib/quote.ts";
import type { HostPlan } from "./plan.ts";
import { activates, toplevelsApply } from "./plan.ts";
import {
  CONTROL_SCRIPT,
  type ControlAction,
  CURRENT_SYSTEM,
  HEALTH_CHECK_SCRIPT,
  LAUNCHER_SCRIPT,
  PROBE_SCRIPT,
  shCommand,
  SUPERVISOR_SCRIPT,
  SYSTEM_PROFILE,
  UNITS_CHECK_SCRIPT,
} from "../lib/fleet/mod.ts";

/**
 * The environment that gives `nix copy` over ssh-ng the same ssh options, and the host's
 * address as `HostName` (the store URL names the host, see {@linkcode storeUrl}). ssh expands
 * `%` tokens in HostName, so an IPv6 zone's `%` is doubled.
 */
export function nixSshEnv(plan: SshTarget, ctx: SshContext): Record<string, string> {
  const hostName = `HostName=${plan.address.replaceAll("%", "%%")}`;
  return { NIX_SSHOPTS: [...sshOptions(plan, ctx), "-o", hostName].join(" ") };
}

/**
 * The host's store as nix names it: `ssh-ng://user@<host name>`, the address going to ssh as
 * `HostName` ({@linkcode nixSshEnv}). nix 2.8's URL grammar (libutil/url-parts.hh) takes only
 * hex digits and ':' between an IPv6 literal's brackets: an IPv4-mapped address
 * (`[::ffff:192.0.2.1]`) or a zone (`[fe80::1%eth0]`) is "don't know how to open Nix store";
 * a host name always parses.
 */
export function storeUrl(plan: SshTarget): string {
  return `ssh-ng://${plan.user}@${plan.host}`;
}

/** Options for {@linkcode copyArgv}. */
export interface CopyOptions {
  /** Adds --no-check-sigs (unsigned paths, e.g. test fixtures). */
  noCheckSigs: boolean;
  /** Copies the derivation, not its output (building on the target). */
  derivation?: boolean;
}

/** `nix copy --to ssh-ng://… --substitute-on-destination <path>`. */
export function copyArgv(plan: SshTarget, path: string, options: CopyOptions): string[] {
  return [
    "nix",
    "copy",
    ...(options.derivation ? ["--derivation"] : []),
    "--to",
    storeUrl(plan),
    "--substitute-on-destination",
    ...(options.noCheckSigs ? ["--no-check-sigs"] : []),
    "--",
    path,
  ];
}

/** `nix eval --json <flake>#nixosConfigurations --apply …`: each host's drvPath and outPath. */
export function evalToplevelsArgv(flake: string, hosts: readonly string[]): string[] {
  return [
    "nix",
    "eval",
    "--json",
    `${flake}#nixosConfigurations`,
    "--apply",
    toplevelsApply(hosts),
  ];
}

/** `nix build --json --no-link <drv>…`: one build of every locally built host. */
export function buildArgv(drvPaths: readonly string[], keepGoing = false): string[] {
  return [
    "nix",
    "build",
    "--json",
    "--no-link",
    ...(keepGoing ? ["--keep-going"] : []),
    "--",
    ...drvPaths,
  ];
}

/** Remote: build a copied derivation on the target; prints the output path. */
export function realiseCommand(drvPath: string): string {
  return ["nix-store", "--realise", drvPath].map(shellQuote).join(" ");
}

/** Remote: the current generation and systems, and the closure diff to `newPath` (PROBE_SCRIPT). */
export function probeCommand(newPath?: string): string {
  return shCommand(PROBE_SCRIPT, newPath === undefined ? [] : [newPath]);
}

/** Runs a remote command as root: as is for root, else `sudo -n`, or `sudo -S` (stdin). */
export function asRoot(plan: HostPlan, command: string): string {
  if (plan.sudo === "none") return command;
  if (plan.sudo === "password") return `sudo -S -p '' ${command}`;
  return `sudo -n ${command}`;
}

/** What identifies one host's run of the deploy on the target. */
export interface RunIds {
  /** The run id: names the state dir on the target (`[0-9a-f]+`). */
  run: string;
  /** Who deploys: `user@machine:pid:start` (see owner.ts), shown when the host is busy. */
  by: string;
  /** The run of a dead deployer whose supervisor may be adopted or cancelled; "" for none. */
  adopt?: string;
}

/**
 * Remote (root): start the supervisor detached and wait (bounded by the activation timeout)
 * for the activation's outcome, after adopting or cancelling `ids.adopt`.
 */
export function activateCommand(plan: HostPlan, ids: RunIds, newPath: string): string {
  return asRoot(
    plan,
    shCommand(LAUNCHER_SCRIPT, [
      SUPERVISOR_SCRIPT,
      ids.run,
      ids.adopt ?? "",
      String(launcherWaitSeconds(plan)),
      ids.by,
      newPath,
      plan.mode,
      String(plan.confirmTimeout),
      String(plan.activationTimeout),
      plan.rollback ? "1" : "0",
      SYSTEM_PROFILE,
      CURRENT_SYSTEM,
      String(unitsCheckSeconds(plan)),
    ]),
  );
}

/**
 * Seconds the supervisor gives the built-in check after a switch or test (0: no check); it
 * runs inside the activation's session, so the deploy needs no session of its own for it.
 */
export function unitsCheckSeconds(plan: HostPlan): number {
  return activates(plan.mode) ? plan.healthCheckTimeout : 0;
}

/**
 * Seconds the supervisor's own bounds add to the activation's: the list of units failed before
 * it, and the built-in check after it (each bounded by the check's timeout).
 */
export function supervisorCheckSeconds(plan: HostPlan): number {
  return 2 * unitsCheckSeconds(plan);
}

/**
 * Seconds a rollback may take on the target: at most two `switch-to-configuration` calls (a
 * test of what ran and a boot of the profile's system), each bounded by the activation timeout.
 */
export function rollbackSeconds(plan: HostPlan): number {
  return 2 * plan.activationTimeout;
}

/** How long the launcher waits for an activation (its bound, the checks', the rollback's). */
export function launcherWaitSeconds(plan: HostPlan): number {
  return plan.activationTimeout + supervisorCheckSeconds(plan) + rollbackSeconds(plan) +
    plan.confirmTimeout + 30;
}

/**
 * Remote: the built-in check that no unit failed because of this deploy, for a run whose
 * state has no result of it (the supervisor runs it otherwise).
 */
export function unitsCheckCommand(failedBefore: readonly string[]): string {
  return shCommand(UNITS_CHECK_SCRIPT, failedBefore.filter((u) => /^[\w@:.\\-]+$/.test(u)));
}

/** Remote: a health check, bounded on the target by the host's health check timeout. */
export function healthCheckCommand(plan: HostPlan, check: string): string {
  return shCommand(HEALTH_CHECK_SCRIPT, [String(plan.healthCheckTimeout), check]);
}

/** Remote (root): confirm, abort or read the supervisor's state; waits up to `wait` s. */
export function controlCommand(
  plan: HostPlan,
  run: string,
  action: ControlAction,
  wait: number,
): string {
  return asRoot(plan, shCommand(CONTROL_SCRIPT, [run, action, String(wait)]));
}

/** Remote (root): `switch-to-configuration dry-activate` of the copied system. */
export function dryActivateCommand(plan: HostPlan, newPath: string): string {
  return asRoot(
    plan,
    [`${newPath}/bin/switch-to-configuration`, "dry-activate"].map(shellQuote).join(" "),
  );
}

/** A fresh, unguessable run id (hex): names the run's state dir on the target. */
export function newRunId(random: Uint8Array = crypto.getRandomValues(new Uint8Array(8))): string {
  return [...random].map((b) => b.toString(16).padStart(2, "0")).join("");
}
