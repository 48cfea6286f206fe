// Benchmarks the index tool against bare Deno start-up: `deno task bench:index [--runs N]`.
// The pre-commit hook must feel instant: the target is a median under 2x `deno run` of an
// empty file, on a generated tree of 2,000 modules across every index kind, for both paths:
// what the pre-commit hook runs (nothing to change) and `deno task index --check` (CI).
import { parse } from "yaml";
import { createRepoCopy, installToolkit } from "../testing/task.ts";
import { createTempRepo, type FixtureTree } from "../testing/temp_repo.ts";
import { benchRunsOrExit } from "./bench_args.ts";
import { formatTimings, medianRatio, type TimedCommand, timeInTurn } from "./timing.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
const TARGET_RATIO = 2;

/** A fleet tree with `count` indexed files spread over every kind of index. */
export function generatedTree(count: number): FixtureTree {
  const tree: FixtureTree = { "flake.nix": "{ outputs = _: { }; }\n" };
  const module = "{ ... }:\n{\n}\n";
  const groups = ["hardware", "mixins", "profiles", "programs", "services", "themes"];
  for (let i = 0; i < count; i++) {
    const n = String(i).padStart(4, "0");
    switch (i % 10) {
      case 0:
        tree[`configurations/host${n}/default.nix`] = module;
        tree[`configurations/host${n}/disko.nix`] = "{ }\n";
        break;
      case 1:
        tree[`overlays/overlay${n}.nix`] = "final: prev: { }\n";
        break;
      case 2:
        tree[`shells/shell${n}/${i % 20 === 2 ? "shell.nix" : "devshell.nix"}`] = "{ }\n";
        break;
      case 3:
        tree[`modules/home/home${n}.nix`] = module;
        break;
      case 4:
        tree[`modules/shared/shared${n}.nix`] = module;
        break;
      default:
        tree[`modules/nixos/${groups[i % groups.length]}/m${n}.nix`] = module;
    }
  }
  return tree;
}

/** The pre-commit hook's command for the index, from .pre-commit-config.yaml. */
async function hookCommand(): Promise<string[]> {
  const config = parse(await Deno.readTextFile(`${ROOT}/.pre-commit-config.yaml`)) as {
    repos: { hooks: { id: string; entry: string }[] }[];
  };
  const entry = config.repos.flatMap((repo) => repo.hooks).find((hook) => hook.id === "index");
  if (entry === undefined) throw new Error("no index hook in .pre-commit-config.yaml");
  return entry.entry.split(/\s+/);
}

async function generateIndexes(dir: string): Promise<void> {
  const generate = await new Deno.Command("deno", {
    args: ["task", "-q", "index"],
    cwd: dir,
    stderr: "piped",
  }).output();
  if (!generate.success) {
    const why = new TextDecoder().decode(generate.stderr).trim();
    throw new Error(`Cannot generate the indexes of ${dir}: ${why}`);
  }
}

async function main(args: string[]): Promise<void> {
  const runs = benchRunsOrExit(args, {
    task: "bench:index",
    summary: "Times the pre-commit hook, index --check and deno task index on 2,000 generated " +
      "modules and on this repository, against bare deno start-up.",
    defaultRuns: 15,
  });
  await using big = await createTempRepo(generatedTree(2000));
  await installToolkit(big.dir);
  await generateIndexes(big.dir);
  await big.git("add", "-A");
  await using own = await createRepoCopy();
  await generateIndexes(own.dir);
  const empty = await Deno.makeTempFile({ suffix: ".ts" });
  const hook = await hookCommand();
  const check = ["deno", "task", "-q", "index", "--check"];

  const commands: TimedCommand[] = [
    { label: "deno run (empty file)", argv: ["deno", "run", empty] },
    { label: "pre-commit hook, 2,000 modules", argv: hook, cwd: big.dir },
    { label: "index --check, 2,000 modules", argv: check, cwd: big.dir },
    {
      label: "deno task index, 2,000 modules",
      argv: ["deno", "task", "-q", "index"],
      cwd: big.dir,
    },
    { label: "pre-commit hook, this repository", argv: hook, cwd: own.dir },
    { label: "index --check, this repository", argv: check, cwd: own.dir },
  ];
  const timings = await timeInTurn(commands, { runs });
  await Deno.remove(empty);
  console.log(formatTimings(timings));
  const bare = timings[0]!;
  for (const timing of timings.slice(1)) {
    const ratio = medianRatio(timing, bare);
    const verdict = ratio < TARGET_RATIO ? "met" : "missed";
    console.log(
      `ratio ${timing.label} / bare start-up: ${ratio.toFixed(2)}x ` +
        `(target < ${TARGET_RATIO}x: ${verdict})`,
    );
  }
}

if (import.meta.main) await main(Deno.args);
