// Temporary git repositories built from a fixture tree, for tests that need a real checkout.
import { runProgramOk } from "./run.ts";

/** A fixture tree: relative path → file content (a string, or bytes with a mode). */
export type FixtureTree = Record<string, string | { content: string; mode: number }>;

/** A temporary repository; dispose it (or use `await using`) to delete it. */
export interface TempRepo extends AsyncDisposable {
  readonly dir: string;
  /** Absolute path of a file in the repository. */
  path(relative: string): string;
  /** Runs git in the repository and returns stdout; throws on failure. */
  git(...args: string[]): Promise<string>;
  /** Writes (or, with `null`, deletes) files, creating folders as needed. */
  write(tree: Record<string, string | null>): Promise<void>;
}

/** Options for {@linkcode createTempRepo}. */
export interface TempRepoOptions {
  /** Commit the fixture tree after `git init` (default true). */
  commit?: boolean;
}

const GIT_ENV = {
  GIT_AUTHOR_NAME: "test",
  GIT_AUTHOR_EMAIL: "test@example.invalid",
  GIT_COMMITTER_NAME: "test",
  GIT_COMMITTER_EMAIL: "test@example.invalid",
  GIT_CONFIG_NOSYSTEM: "1",
};

function runGit(dir: string, args: string[]): Promise<string> {
  return runProgramOk(["git", ...args], { cwd: dir, env: GIT_ENV });
}

async function writeTree(dir: string, tree: FixtureTree | Record<string, string | null>) {
  for (const [relative, entry] of Object.entries(tree)) {
    const path = `${dir}/${relative}`;
    if (entry === null) {
      await Deno.remove(path, { recursive: true }).catch(() => {});
      continue;
    }
    await Deno.mkdir(path.replace(/\/[^/]+$/, ""), { recursive: true });
    if (typeof entry === "string") {
      await Deno.writeTextFile(path, entry);
    } else {
      await Deno.writeTextFile(path, entry.content, { mode: entry.mode });
      await Deno.chmod(path, entry.mode);
    }
  }
}

/** Makes a git repository in a new temporary folder from `tree`. */
export async function createTempRepo(
  tree: FixtureTree,
  options: TempRepoOptions = {},
): Promise<TempRepo> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "devops-repo-" }));
  await writeTree(dir, tree);
  await runGit(dir, ["init", "-q", "-b", "main"]);
  if (options.commit ?? true) {
    await runGit(dir, ["add", "-A"]);
    await runGit(dir, ["commit", "-q", "--allow-empty", "-m", "fixture"]);
  }
  return {
    dir,
    path: (relative) => `${dir}/${relative}`,
    git: (...args) => runGit(dir, args),
    write: (files) => writeTree(dir, files),
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
