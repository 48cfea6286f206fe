// Issue 27: per-run version control (--version <v> | skip | branch), --test building the
// package's passthru.tests after the build, and the changelog link in the summary. The task as
// a subprocess, nix building with the update stand-in or the fixture flake, a local upstream.
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/assert.ts";
import { startHttpServer } from "../testing/http_server.ts";
import { runProgramOk } from "../testing/run.ts";
import { CHECKOUT, runTask } from "../testing/task.ts";
import { currentSystem } from "./facts.ts";
import {
  createPackageRepo,
  createStandInRepo,
  githubReleasePackage,
  npmPackage,
  startUpstream,
  tarGz,
  updateProgramsBin,
} from "./_test_support.ts";

const SYSTEM = currentSystem();
const corpus = (name: string) =>
  Deno.readTextFileSync(`${CHECKOUT}/tools/testing/fixtures/packages/${name}/package.nix`);

function env(url: string): Record<string, string> {
  return { GITHUB_API_URL: url, GITHUB_SERVER_URL: `${url}/web`, NPM_REGISTRY_URL: url };
}

function source(name: string, version: string, marker = `${name} ${version}`) {
  return tarGz(`${name}-${version}`, {
    marker: `${marker}\n`,
    "Cargo.lock": `${name} ${version} Cargo.lock\n`,
  });
}

interface Row {
  name: string;
  kind: string;
  from?: string;
  to?: string;
  step?: string;
  message?: string;
  tests?: string[];
}

async function built(dir: string, name: string): Promise<string> {
  const out = await runProgramOk(
    ["nix", "build", "--no-link", "--json", `${dir}#packages.${SYSTEM}.${name}`],
  );
  const path = (JSON.parse(out) as { outputs: { out: string } }[])[0]!.outputs.out;
  return (await Deno.readTextFile(path)).trim();
}

Deno.test("--version skip recomputes every hash of the current version, asks no upstream and changes nothing else", async () => {
  await using server = startHttpServer();
  // The current release's source as served now: neither the file's source hash nor its
  // cargoHash matches it.
  server.route("GET /github.com/01mf02/jaq/archive/refs/tags/v2.3.0.tar.gz", {
    body: await source("jaq", "2.3.0"),
  });
  const before = corpus("jaq");
  await using repo = await createStandInRepo(server.url, { jaq: before });
  await using bin = await updateProgramsBin();
  const file = repo.path("pkgs/jaq/package.nix");
  const result = await runTask(repo.dir, "update", ["--version", "skip", "jaq"], {
    bin,
    env: env(server.url),
  });
  assertEquals(result.code, 0, result.stderr);
  assertMatch(result.stdout, /jaq\s+2\.3\.0 -> 2\.3\.0\s+hashes recomputed/);
  const after = await Deno.readTextFile(file);
  const old = before.split("\n");
  const now = after.split("\n");
  assertEquals(now.length, old.length);
  const changed = now.flatMap((line, i) => line === old[i] ? [] : [line.trim()]);
  // Exactly the two hashes moved; every other line is as it was.
  assertEquals(changed.length, 2, changed.join("\n"));
  assertMatch(changed[0]!, /^hash = "sha256-[A-Za-z0-9+/]{43}=";$/);
  assertMatch(changed[1]!, /^cargoHash = "sha256-[A-Za-z0-9+/]{43}=";$/);
  // Right: nix builds it from the served source and its Cargo.lock.
  assertEquals(await built(repo.dir, "jaq"), "jaq 2.3.0\njaq 2.3.0 Cargo.lock");
  // No upstream API was asked: only the source was fetched.
  assertEquals(server.requests.filter((r) => r.path.startsWith("/repos/")), []);
  // Run again (with --test: jaq has no passthru.tests): nothing to change, the file stays
  // byte for byte.
  const again = await runTask(repo.dir, "update", ["--version", "skip", "--test", "jaq"], {
    bin,
    env: env(server.url),
  });
  assertEquals(again.code, 0, again.stderr);
  assertMatch(again.stdout, /jaq\s+2\.3\.0 -> 2\.3\.0\s+hashes recomputed, no passthru\.tests/);
  assertEquals(await Deno.readTextFile(file), after);
});

Deno.test("--version <v> moves to that version (even below the newest); one it does not offer is one line, nothing written", async () => {
  await using server = startHttpServer();
  server.route("GET /repos/01mf02/jaq/releases?per_page=100", {
    json: [{ tag_name: "v2.5.0" }, { tag_name: "v2.4.0" }, { tag_name: "v2.3.0" }],
  });
  server.route("GET /github.com/01mf02/jaq/archive/refs/tags/v2.4.0.tar.gz", {
    body: await source("jaq", "2.4.0"),
  });
  await using repo = await createStandInRepo(server.url, {
    jaq: corpus("jaq"),
    jansson: corpus("jansson"),
  });
  await using bin = await updateProgramsBin();
  const file = repo.path("pkgs/jaq/package.nix");
  const before = await Deno.readTextFile(file);

  const missing = await runTask(repo.dir, "update", ["--json", "--version", "9.9.9", "jaq"], {
    bin,
    env: env(server.url),
  });
  assertEquals(missing.code, 1, missing.stderr);
  const row = (JSON.parse(missing.stdout) as { packages: Row[] }).packages[0]!;
  assertEquals([row.kind, row.step], ["failed", "lookup"]);
  assertEquals(
    row.message,
    'GitHub 01mf02/jaq offers no version 9.9.9 (tags read by the shape of the current tag "v2.3.0")',
  );
  assertEquals(await Deno.readTextFile(file), before);

  // A version for every package makes no sense: refused before anything runs.
  const many = await runTask(repo.dir, "update", ["--version", "2.4.0"], {
    bin,
    env: env(server.url),
  });
  assert(many.code !== 0);
  assertEquals(
    many.stderr.trim(),
    "error: Cannot use --version 2.4.0 without exactly one package: name the package to move to it",
  );
  const bad = await runTask(repo.dir, "update", ["--version", "x y", "jaq"], { bin });
  assertEquals(
    bad.stderr.trim(),
    'error: Invalid --version "x y": expected a version (1.2.3), skip, branch or branch=<name>',
  );

  const result = await runTask(repo.dir, "update", ["--version", "2.4.0", "jaq"], {
    bin,
    env: env(server.url),
  });
  assertEquals(result.code, 0, result.stderr);
  assertMatch(result.stdout, /jaq\s+2\.3\.0 -> 2\.4\.0\s+updated/);
  assertStringIncludes(await Deno.readTextFile(file), 'version = "2.4.0";');
  assertEquals(await built(repo.dir, "jaq"), "jaq 2.4.0\njaq 2.4.0 Cargo.lock");
  // The summary names what changed upstream (the commit message has it too).
  assertStringIncludes(
    result.stdout,
    `changes:\n  jaq: ${server.url}/web/01mf02/jaq/compare/v2.3.0...v2.4.0`,
  );
});

Deno.test("--version branch follows the default branch's newest commit for a release package (GitHub, Gitea); npm has no branch: one line", async () => {
  await using upstream = startUpstream();
  const files = { body: "demo one", deps: "dep 1" };
  await upstream.releases("o", "demo", [{ tag: "v1.0.0", files }]);
  const sha = "3333333333333333333333333333333333333333";
  await upstream.branchHead("o", "demo", {
    sha,
    date: "2026-04-20T08:00:00Z",
    files: { body: "demo head", deps: "dep head" },
  });
  await upstream.npmVersions("lib", { "1.0.0": files });
  const demo = await githubReleasePackage(upstream, "demo", "1.0.0", files);
  const lib = await npmPackage(upstream, "lib", "1.0.0", files);
  // A Codeberg package: Gitea's /repos/o/r (default_branch) and /commits?sha=<branch>&limit=1.
  await upstream.releases("o", "tool", [{ tag: "v1.0.0", files }]);
  const toolSha = "4444444444444444444444444444444444444444";
  await upstream.branchHead("o", "tool", {
    sha: toolSha,
    date: "2026-04-21T09:30:00Z",
    files: { body: "tool head", deps: "dep tool" },
  });
  upstream.server.route("GET /api/v1/repos/o/tool", { json: { default_branch: "trunk" } });
  upstream.server.route(
    "GET /api/v1/repos/o/tool/commits?sha=trunk&limit=1&stat=false&files=false",
    { json: [{ sha: toolSha, commit: { committer: { date: "2026-04-21T09:30:00Z" } } }] },
  );
  const tool = await githubReleasePackage(upstream, "tool", "1.0.0", files, {
    updateInfo:
      '    source = "gitea";\n    domain = "codeberg.org";\n    owner = "o";\n    repo = "tool";',
  });
  await using repo = await createPackageRepo([demo, lib, tool]);
  await using bin = await updateProgramsBin();
  const libBefore = await repo.read("lib");
  const result = await runTask(repo.dir, "update", ["--json", "--version", "branch"], {
    bin,
    env: { ...upstream.env, GITEA_API_URL: `${upstream.url}/api/v1` },
  });
  assertEquals(result.code, 1, result.stderr);
  const rows = (JSON.parse(result.stdout) as { packages: Row[] }).packages;
  assertEquals(rows.map((r) => [r.name, r.kind, r.to]), [
    ["demo", "updated", "0-unstable-2026-04-20"],
    ["lib", "failed", undefined],
    ["tool", "updated", "0-unstable-2026-04-21"],
  ]);
  assertEquals(
    rows[1]!.message,
    "--version branch: npm has no branches to follow (GitHub and Gitea do)",
  );
  assertEquals(await repo.read("lib"), libBefore);
  const text = await repo.read("demo");
  assertStringIncludes(text, `tag = "${sha}";`);
  assertStringIncludes(text, 'version = "0-unstable-2026-04-20";');
  assertStringIncludes(await repo.read("tool"), `tag = "${toolSha}";`);
  assertEquals(await built(repo.dir, "tool"), "tool head dep tool");

  // branch=<name>: another branch's head for this run.
  const nextSha = "5555555555555555555555555555555555555555";
  await upstream.branchHead("o", "tool", {
    sha: nextSha,
    date: "2026-04-22T07:00:00Z",
    files: { body: "tool next", deps: "dep next" },
  });
  upstream.server.route(
    "GET /api/v1/repos/o/tool/commits?sha=next&limit=1&stat=false&files=false",
    { json: [{ sha: nextSha, commit: { committer: { date: "2026-04-22T07:00:00Z" } } }] },
  );
  const next = await runTask(repo.dir, "update", ["--version", "branch=next", "tool"], {
    bin,
    env: { ...upstream.env, GITEA_API_URL: `${upstream.url}/api/v1` },
  });
  assertEquals(next.code, 0, next.stderr);
  assertMatch(next.stdout, /tool\s+0-unstable-2026-04-21 -> 0-unstable-2026-04-22\s+updated/);
  assertEquals(await built(repo.dir, "tool"), "tool next dep next");
});

Deno.test("--test builds the package's passthru.tests after the build; a failing test leaves the file as it was", async () => {
  await using server = startHttpServer();
  server.route("GET /repos/akheron/jansson/releases?per_page=100", {
    json: [{ tag_name: "v2.15.2" }, { tag_name: "v2.15.1" }],
  });
  // jansson's passthru.tests.pkg-config (testers.hasPkgConfigModules in the stand-in: the
  // package's output must name its version).
  server.route("GET /github.com/akheron/jansson/archive/refs/tags/v2.15.2.tar.gz", {
    body: await source("jansson", "2.15.2"),
  });
  await using repo = await createStandInRepo(server.url, { jansson: corpus("jansson") });
  await using bin = await updateProgramsBin();
  const file = repo.path("pkgs/jansson/package.nix");
  const before = await Deno.readTextFile(file);

  const usage = await runTask(repo.dir, "update", ["--test", "--no-build"], { bin });
  assertEquals(
    usage.stderr.trim(),
    "error: Cannot use --test with --no-build: the tests build the updated package",
  );

  const result = await runTask(repo.dir, "update", ["--test"], { bin, env: env(server.url) });
  assertEquals(result.code, 0, result.stderr);
  assertMatch(
    result.stdout,
    /jansson\s+2\.15\.1 -> 2\.15\.2\s+updated, passthru\.tests passed \(pkg-config\)/,
  );
  assertStringIncludes(
    result.stdout,
    `changes:\n  jansson: ${server.url}/web/akheron/jansson/compare/v2.15.1...v2.15.2`,
  );
  assertStringIncludes(await Deno.readTextFile(file), 'version = "2.15.2";');

  // A release whose build says another version: the package builds, its test fails.
  await Deno.writeTextFile(file, before);
  // (A new release: nix caches what it fetched from a URL.)
  server.route("GET /repos/akheron/jansson/releases?per_page=100", {
    json: [{ tag_name: "v2.15.3" }, { tag_name: "v2.15.1" }],
  });
  server.route("GET /github.com/akheron/jansson/archive/refs/tags/v2.15.3.tar.gz", {
    body: await source("jansson", "2.15.3", "jansson 2.14"),
  });
  const failing = await runTask(repo.dir, "update", ["--test", "--json"], {
    bin,
    env: env(server.url),
  });
  assertEquals(failing.code, 1, failing.stderr);
  const row = (JSON.parse(failing.stdout) as { packages: Row[] }).packages[0]!;
  assertEquals([row.kind, row.step], ["failed", "test"]);
  assertMatch(
    row.message!,
    /check failed: the package says 'jansson 2\.14', expected version 2\.15\.3/,
  );
  assert(!row.message!.includes("\n"));
  assertEquals(await Deno.readTextFile(file), before);
});
