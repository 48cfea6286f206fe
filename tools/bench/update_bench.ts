// Benchmarks `update`: `--check` over 50 generated packages against a local upstream that adds
// 50 ms to every request, and one package's full update against the same nix commands run by
// hand. `deno task bench:update`.
import { benchRunsOrExit } from "./bench_args.ts";
import { median } from "./timing.ts";
import { runProgram, runProgramOk } from "../testing/run.ts";
import {
  createPackageRepo,
  depsHash,
  type FixturePackage,
  githubReleasePackage,
  packageNix,
  startUpstream,
} from "../update/_test_support.ts";
import { currentSystem, factsExpression } from "../update/facts.ts";
import { hashMismatches } from "../update/execute.ts";

const ROUNDS = import.meta.main
  ? benchRunsOrExit(Deno.args, {
    task: "bench:update",
    summary: "Times update --check over 50 packages against a local upstream with 50 ms latency, " +
      "and one package's full update against the same nix commands run by hand.",
    defaultRuns: 5,
  })
  : 5;
const PACKAGES = 50;
const LATENCY_MS = 50;
const SYSTEM = currentSystem();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function timed(body: () => Promise<void>, before?: () => Promise<void>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < ROUNDS + 1; i++) {
    await before?.();
    const started = performance.now();
    await body();
    if (i > 0) times.push(performance.now() - started); // the first round warms up
  }
  return times;
}

function task(dir: string, args: string[], env: Record<string, string>, okCodes = [0]) {
  return async () => {
    const result = await runProgram(["deno", "task", "-q", "update", ...args], { cwd: dir, env });
    if (!okCodes.includes(result.code)) {
      throw new Error(`update ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
    }
  };
}

const ms = (values: number[]) => `${median(values).toFixed(0)} ms`;

async function checkBenchmark() {
  await using upstream = startUpstream();
  let latency = 0;
  const packages: FixturePackage[] = [];
  const deps = await depsHash("d");
  for (let i = 0; i < PACKAGES; i++) {
    const name = `p${i}`;
    upstream.server.route(`GET /repos/o/${name}/releases?per_page=100`, async () => {
      await sleep(latency);
      return Response.json([{ tag_name: "v1.0.0" }, { tag_name: "v1.1.0" }]);
    });
    packages.push({
      name,
      version: "1.0.0",
      ref: { tag: "v1.0.0" },
      urlTemplate: upstream.archiveUrl("o", name, "@REF@"),
      srcHash: deps, // never fetched by --check
      depsHash: deps,
      updateInfo: `    source = "github";\n    owner = "o";\n    repo = "${name}";`,
    });
  }
  packageNix(packages[0]!); // the same template the tests use
  await using repo = await createPackageRepo(packages);
  const one = async () => {
    const started = performance.now();
    await (await fetch(`${upstream.url}/repos/o/p0/releases?per_page=100`)).arrayBuffer();
    return performance.now() - started;
  };
  latency = LATENCY_MS;
  const single: number[] = [];
  for (let i = 0; i < 10; i++) single.push(await one());
  const request = median(single);

  // The part that does not wait on the upstream: start-up, one nix eval, 50 answers at once.
  latency = 0;
  const fixed = await timed(task(repo.dir, ["--check", "--parallel", "50"], upstream.env));
  latency = LATENCY_MS;
  const rows: string[] = [];
  for (const parallel of [1, 4, 16]) {
    const total = await timed(
      task(repo.dir, ["--check", "--parallel", String(parallel)], upstream.env),
    );
    const waits = Math.ceil(PACKAGES / parallel) * request;
    const target = median(fixed) + waits;
    rows.push(
      `  --parallel ${String(parallel).padEnd(2)}  total ${ms(total).padStart(8)}  target ${
        target.toFixed(0).padStart(5)
      } ms (fixed + ceil(${PACKAGES}/${parallel}) × one request = ${waits.toFixed(0)} ms)  ${
        (median(total) / target).toFixed(2)
      }× target; ${
        (median(total) / (PACKAGES * request) * 100).toFixed(0)
      } % of ${PACKAGES} × one request`,
    );
  }
  console.log(`update --check, ${PACKAGES} packages, +${LATENCY_MS} ms a request:`);
  console.log(
    `  one request ${request.toFixed(1)} ms; ${PACKAGES} × one request = ${
      (PACKAGES * request).toFixed(0)
    } ms`,
  );
  console.log(
    `  fixed part (no added latency, --parallel 50: start-up + one nix eval): ${ms(fixed)}`,
  );
  for (const row of rows) console.log(row);
}

/** The tool's nix commands for one package, run by hand in the same order. */
async function byHand(dir: string, name: string, from: FixturePackage) {
  const file = `${dir}/pkgs/${name}/package.nix`;
  const flake = `${dir}#packages.${SYSTEM}`;
  const evalFacts = async () =>
    JSON.parse(
      await runProgramOk(["nix", "eval", "--json", flake, "--apply", factsExpression([name])]),
    )[name];
  await evalFacts();
  let text = (await Deno.readTextFile(file)).replace(`"${from.version}"`, `"1.1.0"`)
    .replace(`"v${from.version}"`, `"v1.1.0"`);
  await Deno.writeTextFile(file, text);
  await evalFacts();
  // The source hash, learnt like the tool does: a fake hash and nix's own fetch.
  const fake = () =>
    `sha256-${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;
  const fakeSrc = fake();
  const fakeDeps = fake();
  await Deno.writeTextFile(
    file,
    text.replace(from.srcHash, fakeSrc).replace(from.depsHash, fakeDeps),
  );
  const fetched = await runProgram([
    "nix",
    "build",
    "--no-link",
    "--keep-going",
    `${flake}.${name}`,
  ]);
  const [pair] = [...hashMismatches(fetched.stderr)];
  if (pair === undefined) throw new Error(`no got: line: ${fetched.stderr}`);
  const sri = (await runProgramOk(["nix", "hash", "to-sri", "--type", "sha256", ...pair]))
    .trim().split("\n")[1]!;
  text = text.replace(from.srcHash, sri).replace(from.depsHash, fakeDeps);
  await Deno.writeTextFile(file, text);
  const built = await runProgram([
    "nix",
    "build",
    "--no-link",
    "--keep-going",
    `${flake}.${name}`,
  ]);
  const got = hashMismatches(built.stderr).get(fakeDeps);
  if (got === undefined) throw new Error(`no got: line: ${built.stderr}`);
  await Deno.writeTextFile(file, text.replace(fakeDeps, got));
  await evalFacts();
}

async function fullUpdateBenchmark() {
  await using upstream = startUpstream();
  await upstream.releases("o", "one", [
    { tag: "v1.0.0", files: { body: "a", deps: "a" } },
    { tag: "v1.1.0", files: { body: "b", deps: "b" } },
  ]);
  const pkg = await githubReleasePackage(upstream, "one", "1.0.0", { body: "a", deps: "a" });
  await using repo = await createPackageRepo([pkg]);
  const reset = async () => {
    await repo.git("checkout", "-q", "--", "pkgs/one/package.nix");
  };
  const startUp = await timed(task(repo.dir, ["--help"], {}));
  // Rounds alternate between the tool and the commands by hand, so load from elsewhere on the
  // machine falls on both alike.
  const tool: number[] = [];
  const hand: number[] = [];
  for (let i = 0; i < ROUNDS + 1; i++) {
    for (
      const [times, body] of [
        [tool, task(repo.dir, ["--no-build", "one"], upstream.env)],
        [hand, () => byHand(repo.dir, "one", pkg)],
      ] as const
    ) {
      await reset();
      const started = performance.now();
      await body();
      if (i > 0) times.push(performance.now() - started);
    }
  }
  await reset();
  const overhead = (median(tool) / median(hand) - 1) * 100;
  console.log("one package's full update (lookup, rewrite, fake-hash fetch and build, re-eval):");
  console.log(`  update --no-build one   ${ms(tool)}`);
  console.log(`  the nix commands by hand ${ms(hand)}`);
  console.log(`  of which deno task start-up (update --help) ${ms(startUp)}`);
  console.log(`  overhead ${overhead >= 0 ? "+" : ""}${overhead.toFixed(1)} % (target ≤ +15 %)`);
}

if (import.meta.main) {
  await checkBenchmark();
  await fullUpdateBenchmark();
}
