// Test fleets for status: test hosts (sshd, or systemd in nspawn), a fixture flake pointing at
// them with the toolkit, `deno task deploy` to put a system on them the way users do, and
// `deno task status` as users run it. Imported by status's tests and benchmark only.
import type { FixtureHost } from "../testing/fixture_flake.ts";
import { startFixtureFleet, type StartHosts } from "../testing/fixture_fleet.ts";
import type { ProgramResult } from "../testing/run.ts";
import { runProgram } from "../testing/run.ts";
import { runTask } from "../testing/task.ts";
import type { TestHost, TestHosts } from "../testing/test_hosts.ts";

const HOST_FACTS = new URL("../../monitoring/host-facts.sh", import.meta.url).pathname;

/**
 * The metrics monitoring/host-facts.sh (the file the monitoring module ships) prints on `host`
 * with --facts-only: what the node exporter would read, to compare with status.
 */
export async function hostFacts(host: TestHost): Promise<Map<string, string>> {
  const script = await Deno.readTextFile(HOST_FACTS);
  const result = await runProgram(host.sshArgv(["sh", "-s", "--", "--facts-only"]), {
    stdin: script,
  });
  if (result.code !== 0) throw new Error(`host-facts.sh on ${host.name}: ${result.stderr}`);
  const values = new Map<string, string>();
  for (const line of result.stdout.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    values.set(line.slice(0, space), line.slice(space + 1));
  }
  return values;
}

/** The system profile on the hosts. */
export const PROFILE = "/nix/var/nix/profiles/system";

/** ssh flags that reach the test hosts with their client key only. */
export function clientFlags(hosts: TestHosts): string[] {
  return [
    "--ssh-option",
    `IdentityFile=${hosts.clientKey}`,
    "--ssh-option",
    "IdentitiesOnly=yes",
    "--ssh-option",
    "IdentityAgent=none",
  ];
}

/** A status run's output with its --json report, when it printed one. */
export interface StatusOutcome extends ProgramResult {
  report?: { healthy: boolean; hosts: Array<Record<string, unknown> & { host: string }> };
}

/**
 * Starts `count` hosts `web1…` (light sshd hosts, or what `start` starts) and a fixture flake
 * (with the toolkit) pointing at them; dispose it to remove everything.
 */
export async function statusFleet<H extends TestHosts = TestHosts>(
  count: number,
  extra: (i: number) => Partial<FixtureHost> = () => ({}),
  start?: StartHosts<H>,
) {
  const base = await startFixtureFleet(count, extra, start);
  const { hosts, flake, bin } = base;
  return {
    hosts,
    list: base.list,
    flake,
    bin,
    /** `deno task deploy <args> --no-check-sigs …` to the end; throws unless it succeeded. */
    async deploy(...args: string[]): Promise<ProgramResult> {
      const result = await runTask(flake.dir, "deploy", [
        "--no-check-sigs",
        ...clientFlags(hosts),
        "--connect-timeout",
        "5",
        ...args,
      ], { bin });
      if (result.code !== 0) {
        throw new Error(`deploy ${args.join(" ")} failed: ${result.stderr}${result.stdout}`);
      }
      return result;
    },
    /** `deno task status <args>` with the client's ssh flags. */
    async status(...args: string[]): Promise<StatusOutcome> {
      const result: StatusOutcome = await runTask(flake.dir, "status", [
        ...clientFlags(hosts),
        ...args,
      ], { bin });
      if (args.includes("--json")) {
        try {
          result.report = JSON.parse(result.stdout);
        } catch {
          // not a report: the test shows stdout
        }
      }
      return result;
    },
    [Symbol.asyncDispose]: () => base[Symbol.asyncDispose](),
  };
}

/**
 * Switches `host` to `system` by hand, as `nixos-rebuild switch` would: copies it, sets the
 * system profile and runs its switch-to-configuration, over the harness' own ssh (no deploy).
 */
export async function switchByHand(hosts: TestHosts, host: TestHost, system: string) {
  const copy = await runProgram(
    ["nix", "copy", "--no-check-sigs", "--to", host.storeUrl, system],
    { env: hosts.nixSshEnv },
  );
  if (copy.code !== 0) throw new Error(`nix copy to ${host.name} failed: ${copy.stderr}`);
  await host.ssh(
    `nix-env -p ${PROFILE} --set ${system} && ${system}/bin/switch-to-configuration switch`,
  );
}
