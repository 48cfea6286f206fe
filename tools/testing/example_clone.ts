// A clone of this repository at its example state (the example admin key, dev-vm's example
// host key, the example user and hosts), for tests that need those: they must pass in a
// repository whose owner ran `deno task init`, which deleted them from the working tree.
// Everything else (modules, tools) is this checkout's working tree, so the tests test it.
import { runProgram, runProgramOk } from "./run.ts";
import { createTempRepo, type TempRepo } from "./temp_repo.ts";
import { CHECKOUT } from "./task.ts";

/** The example admin key (its private half public on purpose) an example clone holds. */
export const EXAMPLE_ADMIN_KEY_FILE = "configurations/dev-vm/EXAMPLE-admin-age-key.txt";

/**
 * The newest commit of this checkout that still has the example admin key: HEAD, or in a
 * repository whose owner ran init already, the commit before init deleted it.
 */
async function exampleCommit(): Promise<string> {
  const git = (...args: string[]) => runProgram(["git", ...args], { cwd: CHECKOUT });
  if ((await git("cat-file", "-e", `HEAD:${EXAMPLE_ADMIN_KEY_FILE}`)).code === 0) {
    return (await git("rev-parse", "HEAD")).stdout.trim();
  }
  const deleted = (await git(
    "log",
    "-1",
    "--format=%H",
    "--diff-filter=D",
    "HEAD",
    "--",
    EXAMPLE_ADMIN_KEY_FILE,
  )).stdout.trim();
  if (deleted === "") {
    throw new Error(`no commit of this checkout has ${EXAMPLE_ADMIN_KEY_FILE}`);
  }
  return `${deleted}^`;
}

/** What init changes: the example fleet, taken whole from the commit before init. */
const EXAMPLE_FLEET = ["configurations", "secrets", ".sops.yaml", "lib/admins.nix"] as const;

/** Replaces the clone's files with this checkout's (tracked and untracked, not ignored). */
async function copyWorkingTree(repo: TempRepo): Promise<void> {
  for (const path of (await repo.git("ls-files", "-z")).split("\0").filter((p) => p !== "")) {
    await Deno.remove(repo.path(path));
  }
  const listed = await runProgramOk(
    ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
    { cwd: CHECKOUT },
  );
  const present: string[] = [];
  for (const path of new Set(listed.split("\0").filter((p) => p !== ""))) {
    if (await Deno.lstat(`${CHECKOUT}/${path}`).then(() => true, () => false)) present.push(path);
  }
  for (let i = 0; i < present.length; i += 500) {
    await runProgramOk(["cp", "-P", "--parents", ...present.slice(i, i + 500), repo.dir], {
      cwd: CHECKOUT,
    });
  }
}

/**
 * A clone of this repository at its example state, its whole history fetched: this checkout's
 * working tree (modules, tools, everything), committed; in a repository whose owner ran init,
 * with the example fleet (configurations/, secrets/, .sops.yaml, lib/admins.nix) of the commit
 * before init in place of theirs.
 */
export async function createExampleClone(): Promise<TempRepo> {
  const base = await exampleCommit();
  const repo = await createTempRepo({}, { commit: false });
  try {
    await repo.git("fetch", "-q", CHECKOUT, "HEAD");
    const sha = (await runProgramOk(["git", "rev-parse", base], { cwd: CHECKOUT })).trim();
    await repo.git("checkout", "-q", "-B", "main", sha);
    // This checkout's working tree as it is, uncommitted changes too (as createRepoCopy), on
    // top of the history; once its owner ran init, with the example fleet put back.
    await copyWorkingTree(repo);
    if (!await Deno.lstat(`${CHECKOUT}/${EXAMPLE_ADMIN_KEY_FILE}`).then(() => true, () => false)) {
      for (const path of EXAMPLE_FLEET) {
        await Deno.remove(repo.path(path), { recursive: true }).catch(() => {});
      }
      await repo.git("checkout", "-q", sha, "--", ...EXAMPLE_FLEET);
    }
    await repo.git("add", "-A");
    await repo.git("commit", "-q", "--allow-empty", "-m", "this checkout's working tree");
  } catch (error) {
    await repo[Symbol.asyncDispose]();
    throw error;
  }
  return repo;
}
