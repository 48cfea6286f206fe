// Running a tool as its users do: `deno task <name> …` in a repository that holds the toolkit,
// with deno.json's own permissions, and with the programs it calls on a PATH outside the
// repository (a dev shell puts them under /nix/store).
import { type ProgramResult, runProgram, runProgramOk } from "./run.ts";
import { createTempRepo, type TempRepo } from "./temp_repo.ts";

/** The checkout these tests run from: its deno.json, deno.lock and tools/ are the product. */
export const CHECKOUT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

/**
 * What a clone of the repository holds of the toolkit itself (monitoring/host-facts.sh: the
 * status tool sends it to hosts, the one definition of the host facts).
 */
export const TOOLKIT_FILES = [
  "deno.json",
  "deno.lock",
  "tools",
  "monitoring/host-facts.sh",
] as const;

/** The programs the tools call, made available unless a test names its own list. */
export const TOOL_PROGRAMS = [
  "age",
  "age-keygen",
  "bash",
  "git",
  "kill",
  "nix",
  "nix-build",
  "nix-env",
  "nix-instantiate",
  "nix-store",
  "ps",
  "sh",
  "sops",
  "ssh",
  "ssh-keygen",
  "ssh-keyscan",
  "stat",
] as const;

/** Copies the toolkit ({@linkcode TOOLKIT_FILES}) into `repoDir`, as a clone has it. */
export async function installToolkit(repoDir: string): Promise<void> {
  const copy = await runProgram(["cp", "-r", "--parents", ...TOOLKIT_FILES, repoDir], {
    cwd: CHECKOUT,
  });
  if (copy.code !== 0) throw new Error(`cannot copy the toolkit: ${copy.stderr.trim()}`);
}

/**
 * A temporary git repository holding a copy of this checkout's working tree (tracked files and
 * untracked ones git does not ignore), committed: the fleet and the toolkit, as a clone has them.
 */
export async function createRepoCopy(): Promise<TempRepo> {
  const listed = await runProgramOk(
    ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    { cwd: CHECKOUT },
  );
  const present: string[] = [];
  for (const path of new Set(listed.split("\0").filter((p) => p !== ""))) {
    // A file deleted but not yet staged is still listed as cached.
    if (await Deno.lstat(`${CHECKOUT}/${path}`).then(() => true, () => false)) present.push(path);
  }
  const repo = await createTempRepo({}, { commit: false });
  try {
    for (let i = 0; i < present.length; i += 500) {
      await runProgramOk(["cp", "-P", "--parents", ...present.slice(i, i + 500), repo.dir], {
        cwd: CHECKOUT,
      });
    }
    await repo.git("add", "-A");
    await repo.git("commit", "-q", "-m", "copy of the checkout");
  } catch (error) {
    await repo[Symbol.asyncDispose]();
    throw error;
  }
  return repo;
}

/** A temporary bin folder of symbolic links to programs; dispose it to delete it. */
export interface ProgramsBin extends AsyncDisposable {
  readonly dir: string;
}

/**
 * Links each of `programs`, found on this process's PATH, into a new temporary folder outside
 * any repository. A program that is not installed is an error naming it.
 */
export async function createProgramsBin(
  programs: readonly string[] = TOOL_PROGRAMS,
): Promise<ProgramsBin> {
  const dir = await Deno.makeTempDir({ prefix: "devops-bin-" });
  const searchPath = (Deno.env.get("PATH") ?? "").split(":").filter((p) => p !== "");
  for (const program of programs) {
    const found = await findOnPath(program, searchPath);
    if (found === undefined) {
      await Deno.remove(dir, { recursive: true });
      throw new Error(`${program} is not on PATH: run tools/testing/install_test_programs.sh`);
    }
    await Deno.symlink(found, `${dir}/${program}`);
  }
  await Deno.symlink(Deno.execPath(), `${dir}/deno`);
  return {
    dir,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

async function findOnPath(program: string, searchPath: readonly string[]) {
  for (const folder of searchPath) {
    const candidate = `${folder}/${program}`;
    try {
      const info = await Deno.stat(candidate);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) return await Deno.realPath(candidate);
    } catch {
      // not in this folder
    }
  }
  return undefined;
}

/** Options for {@linkcode runTask}. */
export interface RunTaskOptions {
  /** Added to the environment (PATH is set from `bin`). */
  env?: Record<string, string>;
  /** Text for stdin; without it, stdin is closed. */
  stdin?: string;
  /** The folder the user stands in (default the repository); deno task finds deno.json above it. */
  cwd?: string;
  /** The programs on PATH; default a new bin folder of {@linkcode TOOL_PROGRAMS}. */
  bin?: ProgramsBin;
}

/**
 * Runs `deno task -q <task> …args` in `repoDir` (which must hold the toolkit, see
 * {@linkcode installToolkit}) as a subprocess, with PATH holding only the bin folder.
 * Tests that call this for a task count as that task's end-to-end tests (tools/tasks_test.ts
 * checks that every user-facing task has one).
 */
export async function runTask(
  repoDir: string,
  task: string,
  args: readonly string[] = [],
  options: RunTaskOptions = {},
): Promise<ProgramResult> {
  const ownBin = options.bin === undefined ? await createProgramsBin() : undefined;
  const bin = options.bin ?? ownBin!;
  try {
    return await runProgram([`${bin.dir}/deno`, "task", "-q", task, ...args], {
      cwd: options.cwd ?? repoDir,
      // A shell has no INIT_CWD: deno task sets it to the folder it starts in, but keeps one it
      // inherits (from an outer `deno task test`), which would move every relative path.
      env: { ...options.env, PATH: bin.dir, NO_COLOR: "1", INIT_CWD: options.cwd ?? repoDir },
      ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
    });
  } finally {
    await ownBin?.[Symbol.asyncDispose]();
  }
}
