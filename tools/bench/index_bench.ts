// Benchmarks `deno task index --check` against bare Deno start-up: `deno task bench:index`.
// The pre-commit hook must feel instant: the target is a median under 2x `deno run` of an
// empty file, on a generated tree of 2,000 modules across every index kind.
import { createTempRepo, type FixtureTree } from "../testing/temp_repo.ts";
import { formatTimings, timeCommand } from "./timing.ts";

const ROOT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

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

async function main(args: string[]): Promise<void> {
  const runs = Number(args[0] ?? "15");
  await using repo = await createTempRepo(generatedTree(2000));
  await Deno.copyFile(`${ROOT}/deno.json`, repo.path("deno.json"));
  await Deno.copyFile(`${ROOT}/deno.lock`, repo.path("deno.lock"));
  await new Deno.Command("cp", { args: ["-r", `${ROOT}/tools`, repo.dir] }).output();
  const generate = await new Deno.Command("deno", {
    args: ["task", "-q", "index"],
    cwd: repo.dir,
    stderr: "piped",
  })
    .output();
  if (!generate.success) {
    const why = new TextDecoder().decode(generate.stderr).trim();
    throw new Error(`Cannot generate the indexes of the bench tree: ${why}`);
  }
  await repo.git("add", "-A");
  const empty = await Deno.makeTempFile({ suffix: ".ts" });

  const timings = [
    await timeCommand("deno run (empty file)", ["deno", "run", empty], { runs }),
    await timeCommand(
      "index --check, this repository",
      ["deno", "task", "-q", "index", "--check"],
      {
        runs,
        cwd: ROOT,
        okCodes: [0, 1],
      },
    ),
    await timeCommand("index --check, 2,000 modules", ["deno", "task", "-q", "index", "--check"], {
      runs,
      cwd: repo.dir,
    }),
  ];
  await Deno.remove(empty);
  console.log(formatTimings(timings));
  const ratio = timings[2]!.medianMs / timings[0]!.medianMs;
  console.log(`ratio (2,000 modules / bare start-up): ${ratio.toFixed(2)}x (target < 2x)`);
}

if (import.meta.main) await main(Deno.args);
