import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/assert.ts";
import { runProgramOk } from "../testing/run.ts";
import { runTask } from "../testing/task.ts";
import { currentSystem } from "./facts.ts";
import {
  createPackageRepo,
  GIT_IDENTITY,
  githubReleasePackage,
  startUpstream,
  updateProgramsBin,
} from "./_test_support.ts";

const SYSTEM = currentSystem();

async function buildPackage(dir: string, name: string): Promise<string> {
  const out = await runProgramOk([
    "nix",
    "build",
    "--no-link",
    "--json",
    `${dir}#packages.${SYSTEM}.${name}`,
  ]);
  const path = (JSON.parse(out) as { outputs: { out: string } }[])[0]!.outputs.out;
  return (await Deno.readTextFile(path)).trim();
}

Deno.test("update --commit moves a release package: file rewritten, hashes right, one commit", async () => {
  await using upstream = startUpstream();
  await upstream.releases("o", "demo", [
    { tag: "v1.2.0", files: { body: "demo one-two", deps: "dep-a 1" } },
    { tag: "v1.3.0", files: { body: "demo one-three", deps: "dep-a 2" } },
    { tag: "v1.4.0-rc.1", prerelease: true, files: { body: "rc", deps: "dep-rc" } },
  ]);
  const demo = await githubReleasePackage(upstream, "demo", "1.2.0", {
    body: "demo one-two",
    deps: "dep-a 1",
  });
  await using repo = await createPackageRepo([demo]);
  await using bin = await updateProgramsBin();
  const before = (await repo.git("rev-parse", "HEAD")).trim();

  const result = await runTask(repo.dir, "update", ["--commit", "demo"], {
    bin,
    env: { ...upstream.env, ...GIT_IDENTITY },
  });
  assertEquals(result.code, 0, result.stderr);
  assertMatch(result.stdout, /demo\s+1\.2\.0 -> 1\.3\.0\s+updated, committed/);

  const text = await repo.read("demo");
  assertStringIncludes(text, `version = "1.3.0";`);
  assertStringIncludes(text, `tag = "v1.3.0";`);
  assert(!text.includes(demo.srcHash), "the old source hash is gone");
  assert(!text.includes(demo.depsHash), "the old dependency hash is gone");
  // The hashes are right: the package builds from the new tarball and dependencies.
  assertEquals(await buildPackage(repo.dir, "demo"), "demo one-three dep-a 2");

  assertEquals((await repo.git("rev-list", `${before}..HEAD`)).trim().split("\n").length, 1);
  assertEquals(
    (await repo.git("log", "-1", "--format=%s%n%b")).trim(),
    `demo: 1.2.0 -> 1.3.0\n${upstream.url}/web/o/demo/compare/v1.2.0...v1.3.0`,
  );
  assertEquals(
    (await repo.git("show", "--name-only", "--format=", "HEAD")).trim(),
    "pkgs/demo/package.nix",
  );
  assertEquals((await repo.git("status", "--porcelain")).trim(), "");
});
