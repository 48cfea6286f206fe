import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/assert.ts";
import { runProgramOk } from "../testing/run.ts";
import { runTask } from "../testing/task.ts";
import { currentSystem } from "./facts.ts";
import {
  createPackageRepo,
  GIT_IDENTITY,
  githubBranchPackage,
  githubReleasePackage,
  npmPackage,
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

const SHA_OLD = "1111111111111111111111111111111111111111";
const SHA_NEW = "2222222222222222222222222222222222222222";

Deno.test("update --check lists a branch package as outdated; update moves it to 0-unstable-<date>", async () => {
  await using upstream = startUpstream();
  const old = { body: "tool old", deps: "dep old" };
  await upstream.branchHead("o", "tool", {
    sha: SHA_OLD,
    date: "2026-01-23T10:00:00Z",
    files: old,
  });
  const tool = await githubBranchPackage(upstream, "tool", "0-unstable-2026-01-23", SHA_OLD, old);
  await upstream.branchHead("o", "tool", {
    sha: SHA_NEW,
    date: "2026-04-20T23:30:00+00:00",
    files: { body: "tool new", deps: "dep new" },
  });
  await using repo = await createPackageRepo([tool]);
  await using bin = await updateProgramsBin();
  const original = await repo.read("tool");
  const env = { ...upstream.env, ...GIT_IDENTITY };

  const check = await runTask(repo.dir, "update", ["--check", "--json"], { bin, env });
  assertEquals(check.code, 0, check.stderr);
  const report = JSON.parse(check.stdout) as { packages: Record<string, unknown>[] };
  assertEquals(report.packages.map((p) => [p.name, p.kind, p.from, p.to]), [
    ["tool", "outdated", "0-unstable-2026-01-23", "0-unstable-2026-04-20"],
  ]);
  const strict = await runTask(repo.dir, "update", ["--check", "--fail-if-outdated"], { bin, env });
  assertEquals(strict.code, 1, strict.stderr);
  assertMatch(strict.stdout, /tool\s+0-unstable-2026-01-23 -> 0-unstable-2026-04-20\s+outdated/);
  assertEquals(await repo.read("tool"), original, "--check changes nothing");

  const update = await runTask(repo.dir, "update", ["tool"], { bin, env });
  assertEquals(update.code, 0, update.stderr);
  const text = await repo.read("tool");
  assertStringIncludes(text, `version = "0-unstable-2026-04-20";`);
  assertStringIncludes(text, `rev = "${SHA_NEW}";`);
  assertEquals(await buildPackage(repo.dir, "tool"), "tool new dep new");
  // Without --commit the change is left in the working tree for review.
  assertEquals((await repo.git("status", "--porcelain")).trim(), "M pkgs/tool/package.nix");
});

Deno.test("update leaves a package alone when the upstream has nothing newer (pre-releases ignored)", async () => {
  await using upstream = startUpstream();
  const files = { body: "same", deps: "same" };
  await upstream.releases("o", "same", [
    { tag: "v2.0.0", files },
    { tag: "v1.9.0", files },
    { tag: "v2.1.0-beta.1", prerelease: true, files },
  ]);
  const same = await githubReleasePackage(upstream, "same", "2.0.0", files);
  await using repo = await createPackageRepo([same]);
  await using bin = await updateProgramsBin();
  const original = await repo.read("same");
  const result = await runTask(repo.dir, "update", ["--commit"], {
    bin,
    env: { ...upstream.env, ...GIT_IDENTITY },
  });
  assertEquals(result.code, 0, result.stderr);
  assertMatch(result.stdout, /same\s+2\.0\.0\s+up to date/);
  assertEquals(await repo.read("same"), original);
  assertEquals((await repo.git("status", "--porcelain")).trim(), "");
  assertEquals((await repo.git("log", "-1", "--format=%s")).trim(), "toolkit");

  // With --prerelease the beta is taken.
  const pre = await runTask(repo.dir, "update", ["--check", "--prerelease"], {
    bin,
    env: upstream.env,
  });
  assertMatch(pre.stdout, /same\s+2\.0\.0 -> 2\.1\.0-beta\.1\s+outdated/);
});

Deno.test("update names the package in one line when its upstream fails: 404, 500, rate limit, timeout", async () => {
  await using upstream = startUpstream();
  const files = { body: "x", deps: "x" };
  const names = ["gone", "broken", "limited", "slow"];
  for (const name of names) await upstream.releases("o", name, [{ tag: "v1.0.0", files }]);
  const packages = await Promise.all(
    names.map((name) => githubReleasePackage(upstream, name, "1.0.0", files)),
  );
  const reset = Math.floor(Date.now() / 1000) + 600;
  let release = () => {};
  const held = new Promise<void>((resolve) => release = resolve);
  upstream.server.route("GET /repos/o/gone/releases?per_page=100", {
    status: 404,
    json: { message: "Not Found" },
  });
  upstream.server.route("GET /repos/o/broken/releases?per_page=100", {
    status: 500,
    body: "oops",
  });
  upstream.server.route("GET /repos/o/limited/releases?per_page=100", {
    status: 403,
    headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(reset) },
    json: { message: "API rate limit exceeded" },
  });
  upstream.server.route("GET /repos/o/slow/releases?per_page=100", async () => {
    await held;
    return Response.json([]);
  });
  await using repo = await createPackageRepo(packages);
  await using bin = await updateProgramsBin();
  const originals = await Promise.all(names.map((n) => repo.read(n)));
  try {
    const result = await runTask(repo.dir, "update", ["--timeout", "5"], {
      bin,
      env: upstream.env,
    });
    assertEquals(result.code, 1, result.stderr);
    const failures = result.stderr.split("\n").filter((line) => line.includes("failed (lookup)"));
    assertEquals(failures.length, 4, result.stderr);
    const lineOf = (name: string) => failures.find((l) => l.startsWith(`${name}: `)) ?? "";
    assertStringIncludes(lineOf("gone"), "404 Not Found");
    assertStringIncludes(lineOf("broken"), "500");
    const resetAt = new Date(reset * 1000).toISOString().slice(11, 19);
    assertStringIncludes(lineOf("limited"), `rate limit reached; it resets at ${resetAt} UTC`);
    assertStringIncludes(lineOf("limited"), "GITHUB_TOKEN");
    assertStringIncludes(lineOf("slow"), "did not answer within 5 s");
    for (const [i, name] of names.entries()) assertEquals(await repo.read(name), originals[i]);
  } finally {
    release();
  }
});

Deno.test("update sends GITHUB_TOKEN as a bearer token", async () => {
  await using upstream = startUpstream();
  const files = { body: "t", deps: "t" };
  await upstream.releases("o", "tok", [{ tag: "v1.0.0", files }]);
  const tok = await githubReleasePackage(upstream, "tok", "1.0.0", files);
  await using repo = await createPackageRepo([tok]);
  await using bin = await updateProgramsBin();
  const result = await runTask(repo.dir, "update", ["--check"], {
    bin,
    env: { ...upstream.env, GITHUB_TOKEN: "secret-token" },
  });
  assertEquals(result.code, 0, result.stderr);
  const asked = upstream.server.requests.filter((r) => r.path.startsWith("/repos/o/tok/"));
  assert(asked.length > 0);
  for (const r of asked) assertEquals(r.headers["authorization"], "Bearer secret-token");
});

Deno.test("update refuses a file where an old value appears twice, naming the file and the value", async () => {
  await using upstream = startUpstream();
  await upstream.releases("o", "twice", [
    { tag: "v1.0.0", files: { body: "a", deps: "a" } },
    { tag: "v1.1.0", files: { body: "b", deps: "b" } },
  ]);
  const twice = await githubReleasePackage(upstream, "twice", "1.0.0", { body: "a", deps: "a" }, {
    extra:
      `  # The same text elsewhere: a rewrite by plain search would touch it too.\n  note = "1.0.0";\n`,
  });
  await using repo = await createPackageRepo([twice]);
  await using bin = await updateProgramsBin();
  const original = await repo.read("twice");
  const result = await runTask(repo.dir, "update", [], { bin, env: upstream.env });
  assertEquals(result.code, 1, result.stderr);
  assertStringIncludes(
    result.stderr,
    `twice: failed (plan): Cannot rewrite pkgs/twice/package.nix: the old version "1.0.0" appears 2 times as a string literal, expected exactly once`,
  );
  assertEquals(await repo.read("twice"), original);
});

Deno.test("update leaves the file byte for byte as it was when the new version fails to build; --no-build skips the build", async () => {
  await using upstream = startUpstream();
  await upstream.releases("o", "flaky", [
    { tag: "v1.0.0", files: { body: "ok", deps: "d1" } },
    { tag: "v1.1.0", files: { body: "bad", deps: "d2", failBuild: true } },
  ]);
  const flaky = await githubReleasePackage(upstream, "flaky", "1.0.0", { body: "ok", deps: "d1" });
  await using repo = await createPackageRepo([flaky]);
  await using bin = await updateProgramsBin();
  const env = { ...upstream.env, ...GIT_IDENTITY };
  const original = await repo.read("flaky");
  const result = await runTask(repo.dir, "update", ["--commit"], { bin, env });
  assertEquals(result.code, 1, result.stderr);
  assertMatch(
    result.stderr,
    /flaky: failed \(build\): .*fixture build fails|flaky: failed \(build\)/,
  );
  assertEquals(await repo.read("flaky"), original);
  assertEquals((await repo.git("status", "--porcelain")).trim(), "");

  const skipped = await runTask(repo.dir, "update", ["--no-build"], { bin, env });
  assertEquals(skipped.code, 0, skipped.stderr);
  assertStringIncludes(await repo.read("flaky"), `version = "1.1.0";`);
});

Deno.test("update follows the npm registry", async () => {
  await using upstream = startUpstream();
  await upstream.npmVersions("leftpad", {
    "1.0.0": { body: "npm one", deps: "n1" },
    "1.1.0": { body: "npm one-one", deps: "n2" },
    "2.0.0-next.0": { body: "next", deps: "n3" },
  });
  const leftpad = await npmPackage(upstream, "leftpad", "1.0.0", { body: "npm one", deps: "n1" });
  await using repo = await createPackageRepo([leftpad]);
  await using bin = await updateProgramsBin();
  const result = await runTask(repo.dir, "update", ["leftpad"], { bin, env: upstream.env });
  assertEquals(result.code, 0, result.stderr);
  assertStringIncludes(await repo.read("leftpad"), `version = "1.1.0";`);
  assertEquals(await buildPackage(repo.dir, "leftpad"), "npm one-one n2");
});

Deno.test("update --dry-run shows the new file and changes nothing", async () => {
  await using upstream = startUpstream();
  await upstream.releases("o", "dry", [
    { tag: "v1.0.0", files: { body: "a", deps: "a" } },
    { tag: "v1.0.1", files: { body: "b", deps: "b" } },
  ]);
  const dry = await githubReleasePackage(upstream, "dry", "1.0.0", { body: "a", deps: "a" });
  await using repo = await createPackageRepo([dry]);
  await using bin = await updateProgramsBin();
  const original = await repo.read("dry");
  const result = await runTask(repo.dir, "update", ["--dry-run", "--commit"], {
    bin,
    env: { ...upstream.env, ...GIT_IDENTITY },
  });
  assertEquals(result.code, 0, result.stderr);
  assertStringIncludes(result.stderr, "would write pkgs/dry/package.nix");
  assertStringIncludes(result.stderr, `+  version = "1.0.1";`);
  assertStringIncludes(result.stderr, "would run: git -C");
  assertMatch(result.stdout, /dry\s+1\.0\.0 -> 1\.0\.1\s+would update/);
  assertEquals(await repo.read("dry"), original);
  assertEquals((await repo.git("status", "--porcelain")).trim(), "");
});

Deno.test("update names an unknown package and a bad flag as usage errors", async () => {
  await using upstream = startUpstream();
  const files = { body: "a", deps: "a" };
  await upstream.releases("o", "one", [{ tag: "v1.0.0", files }]);
  await using repo = await createPackageRepo([
    await githubReleasePackage(upstream, "one", "1.0.0", files),
  ]);
  await using bin = await updateProgramsBin();
  const unknown = await runTask(repo.dir, "update", ["nope"], { bin, env: upstream.env });
  assertEquals(unknown.code, 2);
  assertStringIncludes(unknown.stderr, `Cannot update "nope": no package pkgs/nope/package.nix`);
  const bad = await runTask(repo.dir, "update", ["--parallel", "0"], { bin, env: upstream.env });
  assertEquals(bad.code, 2);
  assertStringIncludes(bad.stderr, `Invalid --parallel "0"`);
  const unknownFlag = await runTask(repo.dir, "update", ["--bogus"], { bin });
  assertEquals(unknownFlag.code, 2);
  assertStringIncludes(unknownFlag.stderr, "error: Unknown option '--bogus'");
  const help = await runTask(repo.dir, "update", ["--help"], { bin });
  assertEquals(help.code, 0, help.stderr);
  assertStringIncludes(help.stdout, "--fail-if-outdated");
  const hostile = await runTask(repo.dir, "update", ['x"; builtins.abort "y'], { bin });
  assertEquals(hostile.code, 2);
  assertStringIncludes(hostile.stderr, "Invalid package name");
});

/** The process ids below `pid` (children first listed by the kernel), deepest last. */
async function descendants(pid: number): Promise<number[]> {
  const text = await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`).catch(() => "");
  const children = text.trim().split(/\s+/).filter(Boolean).map(Number);
  const below = await Promise.all(children.map(descendants));
  return [...children, ...below.flat()];
}

async function until(what: string, test: () => Promise<boolean>, boundMs = 60_000) {
  const deadline = Date.now() + boundMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

Deno.test("update killed mid-run leaves every file old or new; a second run meanwhile is refused; the next run finishes", async () => {
  await using upstream = startUpstream();
  await upstream.releases("o", "fast", [
    { tag: "v1.0.0", files: { body: "f1", deps: "f1" } },
    { tag: "v1.1.0", files: { body: "f2", deps: "f2" } },
  ]);
  await upstream.releases("o", "stuck", [
    { tag: "v1.0.0", files: { body: "s1", deps: "s1" } },
    { tag: "v1.1.0", files: { body: "s2", deps: "s2" } },
  ]);
  const packages = [
    await githubReleasePackage(upstream, "fast", "1.0.0", { body: "f1", deps: "f1" }),
    await githubReleasePackage(upstream, "stuck", "1.0.0", { body: "s1", deps: "s1" }),
  ];
  // The new tarball of "stuck" is held until the test lets it go.
  const stuckTarball = upstream.archiveUrl("o", "stuck", "v1.1.0").replace(upstream.url, "");
  const tarballRoute = upstream.server.requests.length; // requests so far
  let release = () => {};
  const held = new Promise<void>((resolve) => release = resolve);
  const bytes = await fetch(`${upstream.url}${stuckTarball}`).then((r) => r.arrayBuffer());
  upstream.server.route(`GET ${stuckTarball}`, async () => {
    await held;
    return new Response(bytes);
  });
  await using repo = await createPackageRepo(packages);
  await using bin = await updateProgramsBin();
  const fastOld = await repo.read("fast");
  const stuckOld = await repo.read("stuck");
  const env = { ...upstream.env, PATH: bin.dir, NO_COLOR: "1" };
  // One package at a time (fast, then stuck), so "fast written while stuck fetches" is a state
  // the run always passes through. With both at once, fast's nix build was seen to wait behind
  // stuck's held fetch (an open finding, not what this test is about).
  const first = new Deno.Command(`${bin.dir}/deno`, {
    args: ["task", "-q", "update", "--parallel", "1"],
    cwd: repo.dir,
    env,
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await until(
      "the fast package to be written and the stuck one to be fetching",
      async () =>
        (await repo.read("fast")) !== fastOld &&
        upstream.server.requests.slice(tarballRoute).some((r) => r.path === stuckTarball),
    );

    const second = await runTask(repo.dir, "update", [], { bin, env: upstream.env });
    assertEquals(second.code, 1);
    assertStringIncludes(second.stderr, "another update run holds .devops-update/lock");

    for (const pid of [first.pid, ...await descendants(first.pid)]) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* already gone */ }
    }
    await first.status;
  } finally {
    release();
  }
  assertStringIncludes(await repo.read("fast"), `version = "1.1.0";`);
  assertEquals(await buildPackage(repo.dir, "fast"), "f2 f2");
  assertEquals(await repo.read("stuck"), stuckOld);

  const again = await runTask(repo.dir, "update", [], { bin, env: upstream.env });
  assertEquals(again.code, 0, again.stderr);
  assertMatch(again.stdout, /fast\s+1\.1\.0\s+up to date/);
  assertMatch(again.stdout, /stuck\s+1\.0\.0 -> 1\.1\.0\s+updated/);
  assertEquals(await buildPackage(repo.dir, "stuck"), "s2 s2");
  const left = [];
  for await (const entry of Deno.readDir(repo.path(".devops-update"))) left.push(entry.name);
  assertEquals(left.sort(), [".gitignore", "lock"]);
  assertEquals(
    (await repo.git("status", "--porcelain")).split("\n").map((l) => l.trim()).filter(Boolean)
      .sort(),
    ["M pkgs/fast/package.nix", "M pkgs/stuck/package.nix"],
  );
});

Deno.test("update --commit --parallel 3 makes one commit per package, each with only its file", async () => {
  await using upstream = startUpstream();
  const names = ["red", "green", "blue"];
  const packages = [];
  for (const name of names) {
    await upstream.releases("o", name, [
      { tag: "v1.0.0", files: { body: `${name} 1`, deps: `${name} d1` } },
      { tag: "v1.0.1", files: { body: `${name} 2`, deps: `${name} d2` } },
    ]);
    packages.push(
      await githubReleasePackage(upstream, name, "1.0.0", {
        body: `${name} 1`,
        deps: `${name} d1`,
      }),
    );
  }
  await using repo = await createPackageRepo(packages);
  await using bin = await updateProgramsBin();
  const before = (await repo.git("rev-parse", "HEAD")).trim();
  const result = await runTask(repo.dir, "update", ["--commit", "--parallel", "3", "--json"], {
    bin,
    env: { ...upstream.env, ...GIT_IDENTITY },
  });
  assertEquals(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as { packages: { name: string; kind: string }[] };
  assertEquals(report.packages.map((p) => [p.name, p.kind]), [
    ["blue", "updated"],
    ["green", "updated"],
    ["red", "updated"],
  ]);
  const commits = (await repo.git("rev-list", "--reverse", `${before}..HEAD`)).trim().split("\n");
  assertEquals(commits.length, 3);
  const touched = [];
  for (const commit of commits) {
    const subject = (await repo.git("log", "-1", "--format=%s", commit)).trim();
    const files = (await repo.git("show", "--name-only", "--format=", commit)).trim();
    const name = subject.split(":")[0]!;
    assertEquals(subject, `${name}: 1.0.0 -> 1.0.1`);
    assertEquals(files, `pkgs/${name}/package.nix`);
    touched.push(name);
  }
  assertEquals(touched.sort(), ["blue", "green", "red"]);
  for (const name of names) {
    assertEquals(await buildPackage(repo.dir, name), `${name} 2 ${name} d2`);
  }
});

Deno.test("update --commit refuses a package file with uncommitted changes, leaving them", async () => {
  await using upstream = startUpstream();
  await upstream.releases("o", "dirty", [
    { tag: "v1.0.0", files: { body: "a", deps: "a" } },
    { tag: "v1.0.1", files: { body: "b", deps: "b" } },
  ]);
  const dirty = await githubReleasePackage(upstream, "dirty", "1.0.0", { body: "a", deps: "a" });
  await using repo = await createPackageRepo([dirty]);
  await using bin = await updateProgramsBin();
  const edited = `${await repo.read("dirty")}# a local edit\n`;
  await Deno.writeTextFile(repo.file("dirty"), edited);
  const result = await runTask(repo.dir, "update", ["--commit"], {
    bin,
    env: { ...upstream.env, ...GIT_IDENTITY },
  });
  assertEquals(result.code, 1);
  assertStringIncludes(
    result.stderr,
    "dirty: failed (plan): pkgs/dirty/package.nix has uncommitted changes; commit or stash them first",
  );
  assertEquals(await repo.read("dirty"), edited);
});

Deno.test("update ignores hostile tags an upstream sends", async () => {
  await using upstream = startUpstream();
  const files = { body: "h", deps: "h" };
  await upstream.releases("o", "hostile", [{ tag: "v1.0.0", files }]);
  const hostile = await githubReleasePackage(upstream, "hostile", "1.0.0", files);
  upstream.server.route("GET /repos/o/hostile/releases?per_page=100", {
    json: [
      { tag_name: "v1.0.0" },
      { tag_name: 'v9.0.0"; x = "' },
      { tag_name: "v9.1.0${builtins.abort 1}" },
      { tag_name: "../../etc" },
    ],
  });
  await using repo = await createPackageRepo([hostile]);
  await using bin = await updateProgramsBin();
  const original = await repo.read("hostile");
  const result = await runTask(repo.dir, "update", [], { bin, env: upstream.env });
  assertEquals(result.code, 0, result.stderr);
  assertMatch(result.stdout, /hostile\s+1\.0\.0\s+up to date/);
  assertEquals(await repo.read("hostile"), original);
});

Deno.test("update leaves a tag that follows the version (v${version}) as written and confirms it", async () => {
  await using upstream = startUpstream();
  await upstream.releases("o", "follow", [
    { tag: "v1.0.0", files: { body: "f1", deps: "f1" } },
    { tag: "v1.2.0", files: { body: "f2", deps: "f2" } },
  ]);
  const follow = await githubReleasePackage(upstream, "follow", "1.0.0", {
    body: "f1",
    deps: "f1",
  });
  await using repo = await createPackageRepo([{ ...follow, ref: { tag: "v${version}" } }]);
  await using bin = await updateProgramsBin();
  const result = await runTask(repo.dir, "update", [], { bin, env: upstream.env });
  assertEquals(result.code, 0, result.stderr);
  const text = await repo.read("follow");
  assertStringIncludes(text, `version = "1.2.0";`);
  assertStringIncludes(text, 'tag = "v${version}";');
  assertEquals(await buildPackage(repo.dir, "follow"), "f2 f2");
});
