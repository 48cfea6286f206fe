// Issue 27: sources fetched with git (fetchFromGitea with fetchSubmodules, fetchFromGitHub with
// forceFetchGit) are updated like the others: the source hash is learnt from a fake-hash build
// of the fetchgit derivation, as nix-update does. Real programs: the task as a subprocess, nix
// 2.8 building the stand-in's fetchgit (a fixed-output derivation running git), local git
// repositories cloned with file://, a local Gitea/GitHub API.
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/assert.ts";
import { startHttpServer } from "../testing/http_server.ts";
import { runProgramOk } from "../testing/run.ts";
import { CHECKOUT, runTask } from "../testing/task.ts";
import { currentSystem } from "./facts.ts";
import { createStandInRepo, updateProgramsBin } from "./_test_support.ts";

const SYSTEM = currentSystem();
const corpus = (name: string) =>
  Deno.readTextFileSync(`${CHECKOUT}/tools/testing/fixtures/packages/${name}/package.nix`);

const GIT_ENV = {
  GIT_AUTHOR_NAME: "test",
  GIT_AUTHOR_EMAIL: "test@example.invalid",
  GIT_COMMITTER_NAME: "test",
  GIT_COMMITTER_EMAIL: "test@example.invalid",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_CONFIG_GLOBAL: "/dev/null",
};

function git(cwd: string, ...args: string[]): Promise<string> {
  return runProgramOk(["git", "-c", "protocol.file.allow=always", "-C", cwd, ...args], {
    env: GIT_ENV,
  });
}

/** A bare repository `<root>/<path>.git` whose commits hold `releases` (tag → files), in order. */
async function publish(
  root: string,
  path: string,
  releases: [tag: string, files: Record<string, string>][],
  submodule?: { at: string; url: string },
): Promise<void> {
  const work = await Deno.makeTempDir({ prefix: "devops-git-work-" });
  try {
    await git(work, "init", "-q", "-b", "main");
    if (submodule) await git(work, "submodule", "-q", "add", submodule.url, submodule.at);
    for (const [tag, files] of releases) {
      for (const [name, text] of Object.entries(files)) {
        await Deno.writeTextFile(`${work}/${name}`, text);
      }
      await git(work, "add", "-A");
      await git(work, "commit", "-q", "-m", tag);
      await git(work, "tag", tag);
    }
    await Deno.mkdir(`${root}/${path}.git`.replace(/\/[^/]+$/, ""), { recursive: true });
    await git(root, "clone", "-q", "--bare", work, `${root}/${path}.git`);
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

/** The hash nixpkgs' fetchgit gives `ref` of `url`: the checkout without .git, as a NAR. */
async function checkoutHash(url: string, ref: string, submodules: boolean): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "devops-git-checkout-" });
  try {
    await git(dir, "clone", "-q", url, "tree");
    await git(`${dir}/tree`, "-c", "advice.detachedHead=false", "checkout", "-q", ref);
    if (submodules) await git(`${dir}/tree`, "submodule", "-q", "update", "--init", "--recursive");
    await runProgramOk([
      "find",
      `${dir}/tree`,
      "-name",
      ".git",
      "-prune",
      "-exec",
      "rm",
      "-rf",
      "{}",
      "+",
    ]);
    return (await runProgramOk(["nix", "hash", "path", "--type", "sha256", "--sri", `${dir}/tree`]))
      .trim();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("git-fetched sources (fetchSubmodules, forceFetchGit) update with the hash of the checkout, submodules included", async () => {
  const gitRoot = await Deno.makeTempDir({ prefix: "devops-git-upstream-" });
  try {
    // Codeberg: waylock with a submodule; GitHub: jaq (a Rust package: its cargoHash too).
    const subUrl = `file://${gitRoot}/codeberg.org/ifreund/zig-wayland.git`;
    await publish(gitRoot, "codeberg.org/ifreund/zig-wayland", [
      ["v0.1.0", { "wayland.zig": "zig-wayland 0.1.0\n" }],
    ]);
    await publish(
      gitRoot,
      "codeberg.org/ifreund/waylock",
      [
        ["v1.1.0", { marker: "waylock 1.1.0\n" }],
        ["v1.2.0", { marker: "waylock 1.2.0\n" }],
      ],
      { at: "deps/zig-wayland", url: subUrl },
    );
    await publish(gitRoot, "github.com/01mf02/jaq", [
      ["v2.3.0", { marker: "jaq 2.3.0\n", "Cargo.lock": "jaq 2.3.0 Cargo.lock\n" }],
      ["v2.4.0", { marker: "jaq 2.4.0\n", "Cargo.lock": "jaq 2.4.0 Cargo.lock\n" }],
    ]);

    await using server = startHttpServer();
    server.route("GET /api/v1/repos/ifreund/waylock/releases?limit=50", {
      json: [
        { tag_name: "v1.2.0", prerelease: false, draft: false },
        { tag_name: "v1.1.0", prerelease: false, draft: false },
      ],
    });
    server.route("GET /repos/01mf02/jaq/releases?per_page=100", {
      json: [{ tag_name: "v2.4.0" }, { tag_name: "v2.3.0" }],
    });
    // jaq as nixpkgs has it, with forceFetchGit added (the one change): fetched with git.
    const jaq = corpus("jaq").replace(
      '    tag = "v${finalAttrs.version}";\n',
      '    tag = "v${finalAttrs.version}";\n    forceFetchGit = true;\n',
    );
    assertStringIncludes(jaq, "forceFetchGit = true;");
    await using repo = await createStandInRepo(
      server.url,
      { waylock: corpus("waylock"), jaq },
      gitRoot,
    );
    await using bin = await updateProgramsBin();
    const result = await runTask(repo.dir, "update", ["--json"], {
      bin,
      env: {
        GITHUB_API_URL: server.url,
        GITHUB_SERVER_URL: `${server.url}/web`,
        GITEA_API_URL: `${server.url}/api/v1`,
      },
    });
    assertEquals(result.code, 0, result.stderr);
    const rows =
      (JSON.parse(result.stdout) as { packages: { name: string; kind: string; to?: string }[] })
        .packages;
    assertEquals(rows.map((r) => [r.name, r.kind, r.to]), [
      ["jaq", "updated", "2.4.0"],
      ["waylock", "updated", "1.2.0"],
    ]);

    // The written hash is the checkout's, submodule included (not the tree without it).
    const waylock = await Deno.readTextFile(repo.path("pkgs/waylock/package.nix"));
    const url = `file://${gitRoot}/codeberg.org/ifreund/waylock.git`;
    const withSub = await checkoutHash(url, "v1.2.0", true);
    const withoutSub = await checkoutHash(url, "v1.2.0", false);
    assert(withSub !== withoutSub);
    assertStringIncludes(waylock, `hash = "${withSub}";`);
    assertStringIncludes(waylock, 'version = "1.2.0";');
    const jaqText = await Deno.readTextFile(repo.path("pkgs/jaq/package.nix"));
    assertStringIncludes(
      jaqText,
      `hash = "${await checkoutHash(
        `file://${gitRoot}/github.com/01mf02/jaq.git`,
        "v2.4.0",
        false,
      )}";`,
    );
    // nix builds both from the files as written (fetchgit checks the hash; jaq's cargoHash too).
    for (const [name, first] of [["waylock", "waylock 1.2.0"], ["jaq", "jaq 2.4.0"]]) {
      const out = await runProgramOk(
        ["nix", "build", "--no-link", "--json", `${repo.dir}#packages.${SYSTEM}.${name}`],
      );
      const path = (JSON.parse(out) as { outputs: { out: string } }[])[0]!.outputs.out;
      assertMatch(await Deno.readTextFile(path), new RegExp(`^${first}\\n`));
    }
  } finally {
    await Deno.remove(gitRoot, { recursive: true });
  }
});
