// Every command the deploy runs, built from the plan (pure): local nix, ssh, and remote shell.
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
} from "./remote.ts";

/** How the deploy's SSH connections are made. */
export interface SshContext {
  /** The generated known_hosts file (no whitespace in the path: NIX_SSHOPTS splits on it). */
  knownHostsFile: string;
  /** Extra `-o Key=Value` options (e.g. `IdentityFile=…`). */
  extraOptions: readonly string[];
  /** Seconds before a connection attempt gives up. */
  connectTimeout: number;
  /**
   * Folder for per-host control sockets: the steps before the confirmation share one
   * connection (see {@linkcode masterArgv}); unset, every command opens its own.
   */
  controlDir?: string;
}

/** Which connection a command uses: the host's shared one, or a new one (confirmation). */
export type Connection = "shared" | "new";

/** The control socket of a host's shared connection (see {@linkcode socketName}). */
export function controlPath(plan: HostPlan, ctx: SshContext): string | undefined {
  return ctx.controlDir === undefined ? undefined : `${ctx.controlDir}/${socketName(plan.host)}`;
}

/**
 * The file name of a host's control socket: short whatever the host name's length. A unix
 * socket's path has room for 107 bytes, and while ssh sets the master up it adds a
 * `.<16 random characters>` suffix; a 63-character host name would not fit. Names up to 20
 * characters are kept (readable); longer ones become their first 12 characters and a hash.
 */
export function socketName(host: string): string {
  const short = host.length <= 20 ? host : `${host.slice(0, 12)}-${fnv1a(host)}`;
  return `${short}.sock`;
}

/** FNV-1a (32 bits) of a string's UTF-16 units, as 8 hex digits. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/**
 * The ssh options of every connection: the pinned known_hosts only, strict checking (never
 * trust on first use), Ed25519 host keys only (the kind the repository pins), no password
 * prompts, keepalives that notice a dead link, and never a connection of the user's own
 * multiplexing: "shared" commands go through the deploy's own master connection of the host
 * (ssh connects directly when the master is gone), "new" ones (the confirmation, recovery)
 * open a connection of their own.
 * `HostKeyAlias` makes the host's name, not its address, the known_hosts key.
 */
export function sshOptions(
  plan: HostPlan,
  ctx: SshContext,
  connection: Connection = "shared",
): string[] {
  const socket = connection === "shared" ? controlPath(plan, ctx) : undefined;
  const options = [
    `UserKnownHostsFile=${ctx.knownHostsFile}`,
    "GlobalKnownHostsFile=/dev/null",
    // Keys are pinned per host, not per address: two hosts sharing an address (or one
    // address reused by another machine) are each checked against their own key.
    `HostKeyAlias=${plan.host}`,
    "CheckHostIP=no",
    "StrictHostKeyChecking=yes",
    "HostKeyAlgorithms=ssh-ed25519",
    "BatchMode=yes",
    "ControlMaster=no",
    `ControlPath=${socket ?? "none"}`,
    `ConnectTimeout=${ctx.connectTimeout}`,
    "ServerAliveInterval=5",
    "ServerAliveCountMax=3",
    ...ctx.extraOptions,
  ];
  return ["-p", String(plan.port), ...options.flatMap((o) => ["-o", o])];
}

/** `user@address` (facts and --target are validated: no leading '-', no spaces). */
export function sshDestination(plan: HostPlan): string {
  return `${plan.user}@${plan.address}`;
}

/** `ssh … -- user@address <remote command>`, over the shared connection or a new one. */
export function sshArgv(
  plan: HostPlan,
  ctx: SshContext,
  remoteCommand: string,
  connection: Connection = "shared",
): string[] {
  // `--`: nothing after it (destination, command) can ever be read as an ssh option.
  return [
    "ssh",
    ...sshOptions(plan, ctx, connection),
    "--",
    sshDestination(plan),
    remoteCommand,
  ];
}

/**
 * Opens the host's shared connection in the background (`-M -N -f`; it ends
 * `ControlPersist` seconds after its last use, or at {@linkcode closeMasterArgv}). This is
 * the first contact, so a host key mismatch shows here, before anything is copied.
 */
export function masterArgv(plan: HostPlan, ctx: SshContext, persistSeconds: number): string[] {
  const socket = controlPath(plan, ctx);
  if (socket === undefined) throw new Error("Cannot share connections: no control folder");
  const options = sshOptions(plan, ctx, "new").map((o) =>
    o === "ControlMaster=no"
      ? "ControlMaster=yes"
      : o === "ControlPath=none"
      ? `ControlPath=${socket}`
      : o
  );
  return [
    "ssh",
    "-M",
    "-N",
    "-f",
    ...options,
    "-o",
    `ControlPersist=${persistSeconds}`,
    "--",
    sshDestination(plan),
  ];
}

/** Closes the host's shared connection. */
export function closeMasterArgv(plan: HostPlan, ctx: SshContext): string[] {
  return ["ssh", "-O", "exit", ...sshOptions(plan, ctx, "shared"), "--", sshDestination(plan)];
}

/**
 * The environment that gives `nix copy` over ssh-ng the same ssh options, and the host's
 * address as `HostName` (the store URL names the host, see {@linkcode storeUrl}). ssh expands
 * `%` tokens in HostName, so an IPv6 zone's `%` is doubled.
 */
export function nixSshEnv(plan: HostPlan, ctx: SshContext): Record<string, string> {
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
export function storeUrl(plan: HostPlan): string {
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
export function copyArgv(plan: HostPlan, path: string, options: CopyOptions): string[] {
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

/** `ssh-keyscan` of the host's Ed25519 key: only to show what the host presents. */
export function keyscanArgv(plan: HostPlan, timeout: number): string[] {
  return [
    "ssh-keyscan",
    "-T",
    String(timeout),
    "-p",
    String(plan.port),
    "-t",
    "ed25519",
    "--",
    plan.address,
  ];
}

/** A fresh, unguessable run id (hex): names the run's state dir on the target. */
export function newRunId(random: Uint8Array = crypto.getRandomValues(new Uint8Array(8))): string {
  return [...random].map((b) => b.toString(16).padStart(2, "0")).join("");
}
