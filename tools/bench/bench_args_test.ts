// Benchmarks' command lines: parseBenchArgs() on its own, and every bench task's --help as users
// run it (`deno task bench:… --help`), which must print its usage and start no work.
import assert from "node:assert/strict";
import { benchHelp, parseBenchArgs } from "./bench_args.ts";
import { CHECKOUT, createProgramsBin, runTask } from "../testing/task.ts";

const USAGE = { task: "bench:x", summary: "Times x.", defaultRuns: 4 };

Deno.test("parseBenchArgs() gives the default runs, --runs N, and help", () => {
  assert.deepEqual(parseBenchArgs([], USAGE), { kind: "run", runs: 4, hosts: undefined });
  assert.deepEqual(parseBenchArgs(["--runs", "9"], USAGE), {
    kind: "run",
    runs: 9,
    hosts: undefined,
  });
  assert.deepEqual(parseBenchArgs(["--runs=2"], USAGE), { kind: "run", runs: 2, hosts: undefined });
  const withHosts = { ...USAGE, defaultHosts: 4 };
  assert.deepEqual(parseBenchArgs(["--hosts", "2"], withHosts), { kind: "run", runs: 4, hosts: 2 });
  assert.equal(parseBenchArgs(["--hosts", "0"], withHosts).kind, "refused");
  assert.equal(parseBenchArgs(["--hosts", "2"], USAGE).kind, "refused");
  assert.deepEqual(parseBenchArgs(["--help"], USAGE), { kind: "help", text: benchHelp(USAGE) });
  assert.deepEqual(parseBenchArgs(["-h", "--runs", "0"], USAGE).kind, "help");
});

Deno.test("parseBenchArgs() refuses odd runs and unknown arguments in one line", () => {
  for (const args of [["--runs", "0"], ["--runs=-3"], ["--runs", "2.5"], ["--runs", "x"]]) {
    const parsed = parseBenchArgs(args, USAGE);
    assert.equal(parsed.kind, "refused", args.join(" "));
    if (parsed.kind === "refused") assert.match(parsed.message, /^--runs must be a whole number/);
  }
  for (const args of [["15"], ["--rounds", "3"], ["--runs"], ["--runs", "-3"]]) {
    const parsed = parseBenchArgs(args, USAGE);
    assert.equal(parsed.kind, "refused", args.join(" "));
    if (parsed.kind === "refused") assert.doesNotMatch(parsed.message, /\n/);
  }
});

const BENCH_TASKS = Object.keys(
  JSON.parse(await Deno.readTextFile(`${CHECKOUT}/deno.json`)).tasks as Record<string, string>,
).filter((name) => name.startsWith("bench")).sort();

Deno.test("every bench task's --help prints its usage and starts no work", async () => {
  assert.ok(BENCH_TASKS.length >= 5, `bench tasks: ${BENCH_TASKS.join(", ")}`);
  await using bin = await createProgramsBin();
  for (const task of BENCH_TASKS) {
    // Every benchmark makes its repositories and hosts under TMPDIR: an empty one stays empty.
    const tmp = await Deno.makeTempDir({ prefix: "bench-help-" });
    try {
      const result = await runTask(CHECKOUT, task, ["--help"], { bin, env: { TMPDIR: tmp } });
      assert.equal(result.code, 0, `${task} --help: ${result.stderr}`);
      assert.match(result.stdout, /^Usage: /, `${task} --help printed: ${result.stdout}`);
      assert.doesNotMatch(result.stdout, /NaN|median/, `${task} --help started work`);
      assert.deepEqual(await Array.fromAsync(Deno.readDir(tmp)), [], `${task} made files`);
    } finally {
      await Deno.remove(tmp, { recursive: true });
    }
  }
});

Deno.test("a bench task refuses --runs 0 in one line, exit 2", async () => {
  await using bin = await createProgramsBin();
  for (const task of ["bench:index", "bench:fixture", "bench:rekey", "bench:update"]) {
    const result = await runTask(CHECKOUT, task, ["--runs", "0"], { bin });
    assert.equal(result.code, 2, `${task}: ${result.stderr}`);
    assert.equal(result.stderr.trim().split("\n").length, 1, result.stderr);
    assert.match(result.stderr, /^error: --runs must be a whole number/);
  }
});
