// How long the fixture flake takes to build a host's toplevel: `deno task bench:fixture`.
// Deploy tests build one per host and per change, so the target is a median under 2 s (it was
// an assertion in fixture_flake_test.ts; timings belong here, not in tests).
import { createFixtureFlake } from "../testing/fixture_flake.ts";
import { benchRunsOrExit } from "./bench_args.ts";
import { median } from "./timing.ts";

const TARGET_MS = 2000;

async function main(args: string[]): Promise<void> {
  const runs = benchRunsOrExit(args, {
    task: "bench:fixture",
    summary:
      "Times the fixture flake's toplevel build, which deploy tests make per host and change.",
    defaultRuns: 5,
  });
  await using flake = await createFixtureFlake([{ name: "web1" }, { name: "db1" }]);
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    // A new marker each time, so nix builds a new toplevel rather than finding the last one.
    await flake.update({ web1: { toplevel: { marker: `bench-${crypto.randomUUID()}` } } });
    const started = performance.now();
    await flake.buildToplevel("web1");
    samples.push(performance.now() - started);
  }
  const mid = median(samples);
  console.log(
    `fixture toplevel build: median ${mid.toFixed(0)} ms, min ${
      Math.min(...samples).toFixed(0)
    }, max ${Math.max(...samples).toFixed(0)} (${runs} runs); target < ${TARGET_MS} ms: ${
      mid < TARGET_MS ? "met" : "missed"
    }`,
  );
}

if (import.meta.main) await main(Deno.args);
