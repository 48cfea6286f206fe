// What `deno task status` asks, planned from the host facts and the flags: which hosts, the one
// ssh command per host (the status script, tools/lib/fleet/remote/status.sh), its bound, and
// with --eval the one `nix eval` of every selected host's toplevel. Pure.
import { UsageError } from "../errors.ts";
import {
  type FleetFacts,
  MAX_TIMEOUT_SECONDS,
  shCommand,
  sshArgv,
  type SshContext,
  type SshTarget,
  STATUS_SCRIPT,
} from "../fleet/mod.ts";

/** Which hosts: named ones, every deployable one (--all), or deployable ones with a tag. */
export interface StatusSelection {
  names: string[];
  all: boolean;
  tags: string[];
}

/** One host's query. */
export interface HostQuery {
  host: string;
  target: SshTarget;
  /** `ssh … -- user@address 'sh -c <status script>'`: one command, one round trip. */
  argv: string[];
}

/** The plan of one status run. */
export interface StatusPlan {
  hosts: HostQuery[];
  /** Milliseconds each host may take, connection included, before it is reported timed out. */
  timeoutMs: number;
  /** `nix eval --json …` of the selected hosts' toplevels (--eval), else undefined. */
  evalArgv?: string[];
}

/** Default seconds each host may take (--timeout). */
export const DEFAULT_STATUS_TIMEOUT = 15;

/** The selected host names, sorted; throws a {@linkcode UsageError} naming what is wrong. */
export function selectStatusHosts(facts: FleetFacts, selection: StatusSelection): string[] {
  const known = Object.keys(facts).sort();
  const unknown = selection.names.filter((name) => !(name in facts));
  if (unknown.length > 0) {
    throw new UsageError(
      `Cannot show the status of ${unknown.map((n) => `"${n}"`).join(", ")}: no such host; ` +
        `known hosts: ${known.join(", ") || "(none)"}`,
    );
  }
  const chosen = new Set(selection.names);
  // No host named: every deployable host, as --all.
  const all = selection.all || (selection.names.length === 0 && selection.tags.length === 0);
  for (const name of known) {
    const host = facts[name]!;
    if (!host.deployable) continue;
    if (all || host.tags.some((tag) => selection.tags.includes(tag))) chosen.add(name);
  }
  if (chosen.size === 0) {
    throw new UsageError(
      selection.tags.length > 0
        ? `No host to show: no deployable host has tag ${
          selection.tags.map((t) => `"${t}"`).join(" or ")
        }`
        : "No host to show: the repository has no deployable host",
    );
  }
  return [...chosen].sort();
}

/** The `nix eval` argv of the toplevels of `hosts` in `flake`, as one JSON object by host. */
export function evalArgv(flake: string, hosts: readonly string[]): string[] {
  // Host names are checked names (letters, digits, '-', '_'): safe in a Nix string.
  const list = hosts.map((h) => JSON.stringify(h)).join(" ");
  return [
    "nix",
    "eval",
    "--json",
    `${flake}#nixosConfigurations`,
    "--apply",
    `cs: builtins.listToAttrs (map (n: { name = n; value = cs.\${n}.config.system.build.toplevel.outPath; }) [ ${list} ])`,
  ];
}

/** Plans a status run; pure. */
export function planStatus(
  facts: FleetFacts,
  selection: StatusSelection,
  options: { ssh: SshContext; timeoutSeconds: number; eval?: { flake: string } },
): StatusPlan {
  const t = options.timeoutSeconds;
  if (!Number.isInteger(t) || t < 1 || t > MAX_TIMEOUT_SECONDS) {
    throw new UsageError(`Invalid --timeout "${t}": expected 1 to ${MAX_TIMEOUT_SECONDS} seconds`);
  }
  const names = selectStatusHosts(facts, selection);
  const command = shCommand(STATUS_SCRIPT, []);
  const hosts = names.map((host) => {
    const f = facts[host]!;
    const target: SshTarget = { host, address: f.address, port: f.port, user: f.user };
    return { host, target, argv: sshArgv(target, options.ssh, command, "new") };
  });
  const plan: StatusPlan = { hosts, timeoutMs: t * 1000 };
  if (options.eval) plan.evalArgv = evalArgv(options.eval.flake, names);
  return plan;
}
