// Benchmarks `deploy` against sshd test hosts: 1 and 4 hosts, default and --parallel 1, and the
// tool's overhead against the same steps by hand. Run as root: `deno task bench:deploy`.
import { testHostFlags } from "../deploy/_test_flags.ts";
import { main as deploy } from "../deploy/main.ts";
import { captureMain } from "../testing/capture.ts";
import { runProgramOk } from "../testing/run.ts";
import { median } from "./timing.ts";
import { createFixtureFlake, type FixtureFlake } from "../testing/fixture_flake.ts";
import { startTestHosts, type TestHosts } from "../testing/test_hosts.ts";
import { parseFleetFacts, readFleetFacts } from "../deploy/facts.ts";
import { createRunner } from "../lib/runner.ts";

const ROUNDS = Number(Deno.env.get("BENCH_ROUNDS") ?? "5");

async function run(argv: string[], env: Record<string, string> = {}): Promise<void> {
  await runProgramOk(argv, { env });
}

/** Runs deploy in-process with its output swallowed; throws unless it succeeded. */
async function quietDeploy(args: string[]): Promise<void> {
  const write = Deno.stderr.writeSync;
  // The progress lines are written straight to stderr, not through console.
  Deno.stderr.writeSync = (bytes: Uint8Array) => bytes.length;
  try {
    const result = await captureMain(() => deploy(args));
    if (result.code !== 0) throw new Error(`deploy exited ${result.code}: ${result.stderr}`);
  } finally {
    Deno.stderr.writeSync = write;
  }
}

let generation = 0;

/** A new marker for every host, so each round deploys a new system (not timed). */
async function nextSystem(flake: FixtureFlake): Promise<void> {
  generation++;
  await flake.update(
    Object.fromEntries(
      flake.hosts.map((h) => [h.name, { toplevel: { marker: `g${generation}` } }]),
    ),
  );
}

async function timeRounds(flake: FixtureFlake, body: () => Promise<void>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    await nextSystem(flake);
    const started = performance.now();
    await body();
    times.push(performance.now() - started);
  }
  return times;
}

function deployArgs(hosts: TestHosts, flake: FixtureFlake, rest: string[]): string[] {
  return ["--repo", flake.dir, ...testHostFlags(hosts), ...rest];
}

/** The same steps by hand for one host: build, nix copy, set the profile and activate over ssh. */
async function byHand(hosts: TestHosts, flake: FixtureFlake, name: string): Promise<void> {
  const host = hosts.host(name);
  const built = await runProgramOk([
    "nix",
    "build",
    "--json",
    "--no-link",
    flake.toplevelRef(name),
  ]);
  const path = (JSON.parse(built) as { outputs: { out: string } }[])[0]!.outputs.out;
  await run(
    [
      "nix",
      "copy",
      "--to",
      `ssh-ng://root@${host.address}`,
      "--substitute-on-destination",
      "--no-check-sigs",
      path,
    ],
    hosts.nixSshEnv,
  );
  await host.ssh(
    `nix-env -p /nix/var/nix/profiles/system --set ${path} && ${path}/bin/switch-to-configuration switch`,
  );
}

async function scenario(
  count: number,
  label: string,
  body: (hosts: TestHosts, flake: FixtureFlake) => Promise<void>,
): Promise<number> {
  await using hosts = await startTestHosts(count, {
    names: Array.from({ length: count }, (_, i) => `bench${i + 1}`),
  });
  await using flake = await createFixtureFlake(hosts.hosts.map((h) => ({
    name: h.name,
    hostPublicKey: h.hostPublicKey,
    facts: { address: h.address, confirmTimeout: 30, healthChecks: [] },
  })));
  // Warm-up: the first deploy creates the profile and fills the eval cache.
  await quietDeploy(deployArgs(hosts, flake, ["--all"]));
  const times = await timeRounds(flake, () => body(hosts, flake));
  const m = median(times);
  console.log(
    `${label.padEnd(36)} median ${m.toFixed(0).padStart(6)} ms  (${
      times.map((t) => t.toFixed(0)).join(", ")
    })`,
  );
  return m;
}

/**
 * Host facts of `count` hosts read as the deploy reads a repository's own: the real
 * lib/hosts.nix over an index of `count` configurations/<host>/deploy.nix, one `nix eval
 * --json --file` plus the strict zod check.
 */
async function factsBench(count: number): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "devops-facts-bench-" });
  try {
    await Deno.mkdir(`${dir}/lib`);
    await Deno.copyFile(new URL("../../lib/hosts.nix", import.meta.url), `${dir}/lib/hosts.nix`);
    const names = Array.from({ length: count }, (_, i) => `host${i + 1}`);
    await Deno.mkdir(`${dir}/configurations`);
    await Deno.writeTextFile(
      `${dir}/configurations/nixos-configurations.nix`,
      `{\n${names.map((n) => `  ${n} = ./${n};`).join("\n")}\n}\n`,
    );
    for (const [i, name] of names.entries()) {
      await Deno.mkdir(`${dir}/configurations/${name}`);
      await Deno.writeTextFile(
        `${dir}/configurations/${name}/deploy.nix`,
        `{ deployable = true; address = "192.0.2.${i % 250 + 1}"; tags = [ "t${i % 5}" ]; ` +
          `healthChecks = [ "true" ]; system = "x86_64-linux"; }\n`,
      );
    }
    const runner = createRunner({ write: () => {} });
    const source = { kind: "file" as const, path: `${dir}/lib/hosts.nix` };
    await readFleetFacts(runner, source);
    const times: number[] = [];
    const parses: number[] = [];
    let raw: unknown;
    for (let i = 0; i < ROUNDS; i++) {
      const started = performance.now();
      await readFleetFacts(runner, source);
      times.push(performance.now() - started);
      raw ??= JSON.parse(
        await runner.text({ argv: ["nix", "eval", "--json", "--file", source.path] }),
      );
      const parseStart = performance.now();
      parseFleetFacts(raw);
      parses.push(performance.now() - parseStart);
    }
    console.log(
      `${`facts of ${count} hosts (lib/hosts.nix)`.padEnd(36)} median ${
        median(times).toFixed(0).padStart(6)
      } ms  (strict check alone ${median(parses).toFixed(2)} ms; target < 1000 ms for 20)`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Entry point; prints medians and ratios. */
export async function main(_args: string[]): Promise<number> {
  console.log(`deploy benchmark, ${ROUNDS} rounds each, fixture flake, sshd test hosts`);
  await factsBench(20);
  await factsBench(200);
  const one = await scenario(
    1,
    "deploy 1 host",
    (h, f) => quietDeploy(deployArgs(h, f, ["--all"])),
  );
  const four = await scenario(
    4,
    "deploy 4 hosts (default parallel)",
    (h, f) => quietDeploy(deployArgs(h, f, ["--all"])),
  );
  const serial = await scenario(
    4,
    "deploy 4 hosts --parallel 1",
    (h, f) => quietDeploy(deployArgs(h, f, ["--all", "--parallel", "1"])),
  );
  const same = await scenario(
    1,
    "deploy 1 host --no-rollback",
    (h, f) => quietDeploy(deployArgs(h, f, ["--all", "--no-rollback"])),
  );
  const hand = await scenario(
    1,
    "by hand 1 host (build+copy+ssh)",
    (h, f) => byHand(h, f, "bench1"),
  );
  console.log(`4 hosts / 1 host (default parallel): ${(four / one).toFixed(2)}x (target ≤ 1.5x)`);
  console.log(`4 hosts --parallel 1 / 1 host:       ${(serial / one).toFixed(2)}x`);
  const pct = (x: number) => `${((x / hand - 1) * 100).toFixed(0)}%`;
  // By hand is build + copy + one ssh that sets the profile and activates; the tool's same
  // steps are a deploy without the confirmation (--no-rollback), which needs a new connection.
  console.log(`overhead, same steps (--no-rollback) vs by hand: ${pct(same)} (target ≤ 15%)`);
  console.log(`overhead, with magic rollback vs by hand:        ${pct(one)}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
