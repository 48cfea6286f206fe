// A test fleet for the tools that reach hosts: `count` test hosts `web1…` (light sshd hosts, or
// what `start` starts: systemd hosts), a fixture flake pointing at them with the toolkit as a
// clone has it (kept out of the fixture's commits and flake source), and a programs folder
// for `deno task`. Deploy's and status's test fleets build on it.
import { createFixtureFlake, type FixtureHost } from "./fixture_flake.ts";
import { createProgramsBin, installToolkit, type ProgramsBin } from "./task.ts";
import { startTestHosts, type TestHosts } from "./test_hosts.ts";

/** Starts test hosts: the light sshd hosts unless a test gives systemd's. */
export type StartHosts<H extends TestHosts> = (
  count: number,
  options: { names: string[] },
) => Promise<H>;

/** Starts the hosts, the fixture flake and the programs folder; dispose it to remove them. */
export async function startFixtureFleet<H extends TestHosts = TestHosts>(
  count: number,
  extra: (i: number) => Partial<FixtureHost> = () => ({}),
  start: StartHosts<H> = startTestHosts as StartHosts<H>,
) {
  const hosts = await start(count, {
    names: Array.from({ length: count }, (_, i) => `web${i + 1}`),
  });
  try {
    const flake = await createFixtureFlake(hosts.hosts.map((h, i) => ({
      name: h.name,
      hostPublicKey: h.hostPublicKey,
      ...extra(i),
      facts: { address: h.address, confirmTimeout: 3, tags: ["web"], ...extra(i).facts },
    })));
    await installToolkit(flake.dir);
    await Deno.writeTextFile(
      flake.path(".git/info/exclude"),
      "/deno.json\n/deno.lock\n/tools/\n/monitoring/\n",
    );
    const bin: ProgramsBin = await createProgramsBin();
    return {
      hosts,
      list: hosts.hosts as H["hosts"],
      flake,
      bin,
      async [Symbol.asyncDispose]() {
        await bin[Symbol.asyncDispose]();
        await flake[Symbol.asyncDispose]();
        await hosts[Symbol.asyncDispose]();
      },
    };
  } catch (error) {
    await hosts[Symbol.asyncDispose]();
    throw error;
  }
}
