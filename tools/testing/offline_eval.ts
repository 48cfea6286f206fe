// The offline evaluation of the flake, shared by the tests that use it: the real input flakes
// from ../shared/nix-inputs and the stub nixpkgs of tools/testing/nixpkgs_stub (the real lib,
// fake packages, typed NixOS options), in the two models the stub has: NixOS 26.05, the
// release the fleet pins, and 26.11pre (nixos-unstable after the branch-off).
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { assert } from "./assert.ts";
import { type ProgramResult, runProgram, runProgramOk } from "./run.ts";

const checkout = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

/** ../shared/nix-inputs beside the checkout (or beside the folder of worktrees), if there. */
export const NIX_INPUTS_DIR: string | undefined = [
  resolve(checkout, "..", "shared", "nix-inputs"),
  resolve(checkout, "..", "..", "shared", "nix-inputs"),
].find((dir) => {
  try {
    return Deno.statSync(join(dir, "MANIFEST.tsv")).isFile;
  } catch {
    return false;
  }
});

/** The flake inputs overridden with a snapshot of the same name (nixpkgs: the stub). */
export const INPUT_SNAPSHOTS = ["flake-parts", "disko", "sops-nix", "devshell", "nixos-hardware"];

/** The NixOS releases the stub models (tools/testing/nixpkgs_stub/release.nix). */
export type Release = "26.05" | "26.11pre";

/** Unpacks a tarball of one top folder into `into`; returns that folder. */
export async function unpack(tarball: string, into: string): Promise<string> {
  await Deno.mkdir(into, { recursive: true });
  await runProgramOk(["tar", "-xzf", tarball, "-C", into]);
  const entries: string[] = [];
  for await (const entry of Deno.readDir(into)) entries.push(entry.name);
  assert(entries.length === 1 && entries[0] !== undefined, `${tarball}: not one top folder`);
  return join(into, entries[0]);
}

/** The input snapshots and both stub models, unpacked once into a temporary folder. */
export interface Prepared {
  overrides: string[];
  stubs: Record<Release, string>;
}

/** Unpacks the snapshots of `inputs` and the stub at `stubDir` (in both models) into `dir`. */
export async function prepareOffline(
  dir: string,
  inputs: string,
  stubDir: string,
): Promise<Prepared> {
  const overrides: string[] = [];
  for (const snapshot of INPUT_SNAPSHOTS) {
    const path = await unpack(join(inputs, `${snapshot}.tar.gz`), join(dir, snapshot));
    // Every nested input of these follows our nixpkgs, so their own lock files are not
    // needed, and nix 2.8 cannot read nixos-hardware's (a tarball with lastModified).
    await Deno.remove(join(path, "flake.lock")).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    overrides.push("--override-input", snapshot, `path:${path}`);
  }
  const lib = await unpack(join(inputs, "nixpkgs.lib.tar.gz"), join(dir, "nixpkgs.lib"));
  const stubs = {} as Record<Release, string>;
  for (const release of ["26.05", "26.11pre"] as const) {
    const nixpkgs = join(dir, `nixpkgs-${release}`);
    await runProgramOk(["cp", "-r", stubDir, nixpkgs]);
    await runProgramOk(["cp", "-r", join(lib, "lib"), join(nixpkgs, "lib")]);
    await Deno.writeTextFile(join(nixpkgs, "release.nix"), `"${release}"\n`);
    // The lib snapshot is nixpkgs.lib after the branch-off (its .version says 26.11); the
    // 26.05 model's lib says 26.05, as lib.trivial.release does on that release (the
    // installer profile's system.stateVersion default reads it).
    await Deno.writeTextFile(
      join(nixpkgs, "lib", ".version"),
      release === "26.05" ? "26.05" : "26.11",
    );
    stubs[release] = nixpkgs;
  }
  return { overrides, stubs };
}

/** Evaluating one flake against one model of the stub. */
export interface Evaluator {
  /**
   * `nix eval --json` of an attribute of the flake, with `--apply` when given; `--impure`
   * when `apply` reads a file outside the flake.
   */
  flake(attribute: string, apply?: string, impure?: boolean): Promise<ProgramResult>;
  /** `nix eval --json --impure --expr` with `stub` bound to the stub nixpkgs flake. */
  expr(expression: string): Promise<ProgramResult>;
}

/** How to evaluate the flake at `flake` (a flake reference) against one model, from `cwd`. */
export function offlineEvaluator(
  prepared: Prepared,
  release: Release,
  flake: string,
  cwd: string,
): Evaluator {
  const nixpkgs = prepared.stubs[release];
  const overrides = [
    ...prepared.overrides,
    "--override-input",
    "nixpkgs",
    `path:${nixpkgs}`,
    // The unstable input is only read for packages (overlays/unstable-backports.nix).
    "--override-input",
    "nixpkgs-unstable",
    `path:${prepared.stubs["26.11pre"]}`,
  ];
  const common = ["nix", "eval", "--json", "--no-eval-cache"];
  return {
    flake: (attribute, apply, impure = false) =>
      runProgram([
        ...common,
        "--no-write-lock-file",
        ...(impure ? ["--impure"] : []),
        ...overrides,
        `${flake}#${attribute}`,
        ...(apply === undefined ? [] : ["--apply", apply]),
      ], { cwd }),
    expr: (expression) =>
      runProgram([
        ...common,
        "--impure",
        "--expr",
        `let stub = builtins.getFlake "path:${nixpkgs}"; in ${expression}`,
      ], { cwd }),
  };
}

/** The error nix printed, without the lock file chatter. */
export function nixError(result: ProgramResult): string {
  return result.stderr.split("\n").filter((line) =>
    !/^(warning: (Git tree|not writing)|• | {4}('|follows ))/.test(line)
  ).join("\n").trim();
}

/** The JSON nix printed, or a failed assertion naming `what` and nix's error. */
export function evalJson<T>(result: ProgramResult, what: string): T {
  assert(result.code === 0, `Cannot evaluate ${what}:\n${nixError(result)}`);
  return JSON.parse(result.stdout) as T;
}
