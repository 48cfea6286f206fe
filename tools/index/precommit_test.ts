// Drives a real git repository with Debian's pre-commit and the repository's own hook config.
import { parse } from "yaml";
import { assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { fleetTree } from "../testing/repo_fixture.ts";
import { runProgram } from "../testing/run.ts";
import { createProgramsBin } from "../testing/task.ts";
import { createTempRepo } from "../testing/temp_repo.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

async function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}) {
  const result = await runProgram([cmd, ...args], { cwd, env });
  return { code: result.code, output: result.stdout + result.stderr };
}

async function copyInto(dir: string, relatives: string[]) {
  const copied = await run("cp", ["-r", "--parents", ...relatives, dir], ROOT);
  assertEquals(copied.code, 0, copied.output);
}

/** A fleet repository with the toolkit, one commit and pre-commit's hook installed. */
async function hookedRepo() {
  const repo = await createTempRepo(fleetTree(), { commit: false });
  await copyInto(repo.dir, [
    ".pre-commit-config.yaml",
    "deno.json",
    "deno.lock",
    "tools/lib",
    "tools/index",
  ]);
  // The programs on a PATH outside the repository, as a dev shell has them.
  const bin = await createProgramsBin(["git", "pre-commit", "sh", "bash"]);
  const env = {
    PATH: bin.dir,
    PRE_COMMIT_HOME: repo.path(".pre-commit-cache"),
    GIT_AUTHOR_NAME: "t",
    GIT_AUTHOR_EMAIL: "t@example.invalid",
    GIT_COMMITTER_NAME: "t",
    GIT_COMMITTER_EMAIL: "t@example.invalid",
  };
  await repo.write({ ".gitignore": ".pre-commit-cache/\n" });
  assertEquals((await run("deno", ["task", "-q", "index"], repo.dir, env)).code, 0);
  await repo.git("add", "-A");
  assertEquals((await run("git", ["commit", "-q", "-m", "start"], repo.dir, env)).code, 0);
  const install = await run("pre-commit", ["install"], repo.dir, env);
  assertEquals(install.code, 0, install.output);
  return {
    repo,
    env,
    async [Symbol.asyncDispose]() {
      await bin[Symbol.asyncDispose]();
      await repo[Symbol.asyncDispose]();
    },
  };
}

Deno.test("pre-commit blocks a commit with a stale index, regenerates it, then lets it pass", async () => {
  await using hooked = await hookedRepo();
  const { repo, env } = hooked;
  await repo.write({ "modules/nixos/mixins/mixin-sudo.nix": "# sudo\n{ ... }:\n{\n}\n" });
  await repo.git("add", "modules/nixos/mixins/mixin-sudo.nix");
  const blocked = await run("git", ["commit", "-m", "add sudo mixin"], repo.dir, env);
  assertEquals(blocked.code, 1, blocked.output);
  assertStringIncludes(blocked.output, "files were modified by this hook");
  assertStringIncludes(
    await Deno.readTextFile(repo.path("modules/nixos/nixos-modules.nix")),
    "mixin-sudo = ./mixins/mixin-sudo.nix;",
  );
  assertEquals((await repo.git("log", "--format=%s")).trim(), "start", "nothing was committed");

  await repo.git("add", "modules/nixos/nixos-modules.nix");
  const passed = await run("git", ["commit", "-m", "add sudo mixin"], repo.dir, env);
  assertEquals(passed.code, 0, passed.output);
  assertEquals((await repo.git("log", "--format=%s")).trim(), "add sudo mixin\nstart");
});

Deno.test("the pre-commit hook runs deno.json's index task word for word, permissions included", async () => {
  const config = parse(await Deno.readTextFile(`${ROOT}/.pre-commit-config.yaml`)) as {
    repos: { hooks: { id: string; entry: string }[] }[];
  };
  const hook = config.repos.flatMap((repo) => repo.hooks).find((h) => h.id === "index");
  const denoJson = JSON.parse(await Deno.readTextFile(`${ROOT}/deno.json`)) as {
    tasks: Record<string, string>;
  };
  assertEquals(hook?.entry, denoJson.tasks.index);
});

Deno.test("the pre-commit hook indexes only what the commit holds: an untracked file stays out", async () => {
  await using hooked = await hookedRepo();
  const { repo, env } = hooked;
  // A draft beside the change, never added: a commit whose index named it would not evaluate.
  await repo.write({
    "overlays/wip.nix": "final: prev: { }\n",
    "modules/nixos/mixins/mixin-sudo.nix": "# sudo\n{ ... }:\n{\n}\n",
  });
  await repo.git("add", "modules/nixos/mixins/mixin-sudo.nix");
  const blocked = await run("git", ["commit", "-a", "-m", "add sudo mixin"], repo.dir, env);
  assertEquals(blocked.code, 1, blocked.output);
  assertStringIncludes(
    await Deno.readTextFile(repo.path("modules/nixos/nixos-modules.nix")),
    "mixin-sudo = ./mixins/mixin-sudo.nix;",
  );
  await repo.git("add", "modules/nixos/nixos-modules.nix");
  const passed = await run("git", ["commit", "-a", "-m", "add sudo mixin"], repo.dir, env);
  assertEquals(passed.code, 0, passed.output);
  const committed = await repo.git("show", "HEAD:overlays/overlays.nix");
  assertEquals(committed.includes("wip"), false, committed);
  assertEquals(await repo.git("status", "--porcelain"), "?? overlays/wip.nix\n");
  // By hand, the tool still lists the draft, with its warning.
  const manual = await run("deno", ["task", "-q", "index"], repo.dir, env);
  assertStringIncludes(manual.output, `warning: "overlays/wip.nix" is not tracked by git`);
  assertStringIncludes(await Deno.readTextFile(repo.path("overlays/overlays.nix")), "wip");
});
