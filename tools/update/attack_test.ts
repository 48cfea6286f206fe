// Regressions found by attacking `deno task update` as users run it: a first page of releases
// that holds only pre-releases, and upstream text that reaches the terminal. The task runs as a
// subprocess against a local HTTP upstream, with nix evaluating real package files (the corpus)
// through the update stand-in for nixpkgs.
import { assertEquals, assertMatch } from "../testing/assert.ts";
import { startHttpServer } from "../testing/http_server.ts";
import { CHECKOUT, runTask } from "../testing/task.ts";
import {
  createPackageRepo,
  createStandInRepo,
  GIT_IDENTITY,
  githubReleasePackage,
  startUpstream,
  updateProgramsBin,
} from "./_test_support.ts";

const corpus = (name: string) =>
  Deno.readTextFileSync(`${CHECKOUT}/tools/testing/fixtures/packages/${name}/package.nix`);

function env(url: string): Record<string, string> {
  return {
    GITHUB_API_URL: url,
    GITHUB_SERVER_URL: `${url}/web`,
    NPM_REGISTRY_URL: url,
    GITLAB_API_URL: `${url}/api/v4`,
  };
}

interface Report {
  packages: { name: string; kind: string; to?: string; reason?: string; message?: string }[];
}

Deno.test("a first page of 100 pre-releases: the newest stable release (on a later page) is found, not 'up to date'", async () => {
  await using server = startHttpServer();
  // jansson is at 2.15.1; 100 release candidates of 3.0.0 fill GitHub's first page, and the
  // stable 2.16.0 is only on page 2. GitHub's "latest release" is the newest stable one.
  const candidates = Array.from({ length: 100 }, (_, i) => ({
    tag_name: `v3.0.0-rc.${100 - i}`,
    prerelease: true,
  }));
  server.route("GET /repos/akheron/jansson/releases?per_page=100", { json: candidates });
  server.route("GET /repos/akheron/jansson/releases?per_page=100&page=2", {
    json: [{ tag_name: "v2.16.0" }, { tag_name: "v2.15.1" }],
  });
  server.route("GET /repos/akheron/jansson/releases/latest", { json: { tag_name: "v2.16.0" } });
  // Many projects do not flag their release candidates as pre-releases: only the tag says so.
  server.route("GET /repos/01mf02/jaq/releases?per_page=100", {
    json: Array.from({ length: 100 }, (_, i) => ({ tag_name: `v3.0.0-rc.${100 - i}` })),
  });
  server.route("GET /repos/01mf02/jaq/releases/latest", { json: { tag_name: "v2.4.0" } });
  await using repo = await createStandInRepo(server.url, {
    jansson: corpus("jansson"),
    jaq: corpus("jaq"),
  });
  await using bin = await updateProgramsBin();
  const result = await runTask(repo.dir, "update", ["--check", "--json"], {
    bin,
    env: env(server.url),
  });
  assertEquals(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as Report;
  assertEquals(report.packages.map((p) => [p.name, p.kind, p.to]), [
    ["jansson", "outdated", "2.16.0"],
    ["jaq", "outdated", "2.4.0"],
  ]);
});

Deno.test("updateInfo.versionRegex with catastrophic backtracking: a hostile tag cannot hang the run", async () => {
  await using server = startHttpServer();
  // `^v?((a+)+)$` backtracks 2^n times on "aaa…a!" in a backtracking engine: the run would
  // never end (no --timeout bounds a regex). The tool runs versionRegex in linear time.
  server.route("GET /repos/akheron/jansson/releases?per_page=100", {
    json: [{ tag_name: `${"a".repeat(48)}!` }, { tag_name: "v2.16.0" }],
  });
  // A backreference cannot run in linear time: refused with a one-line cause.
  server.route("GET /repos/o/backref/releases?per_page=100", { json: [{ tag_name: "v1.0.0" }] });
  const withRegex = (regex: string, repo = "jansson") =>
    corpus("jansson").replace(
      'updateInfo = { source = "github"; owner = "akheron"; repo = "jansson"; };',
      `updateInfo = { source = "github"; owner = "${
        repo === "jansson" ? "akheron" : "o"
      }"; repo = "${repo}"; versionRegex = ${JSON.stringify(regex)}; };`,
    );
  await using repo = await createStandInRepo(server.url, {
    jansson: withRegex("^v?((a+)+|[0-9.]+)$"),
    backref: withRegex("^(v)\\1?([0-9.]+)$", "backref"),
  });
  await using bin = await updateProgramsBin();
  const result = await runTask(repo.dir, "update", ["--check", "--json"], {
    bin,
    env: env(server.url),
  });
  assertEquals(result.code, 1, result.stderr);
  const report = JSON.parse(result.stdout) as Report;
  assertEquals(report.packages.map((p) => [p.name, p.kind, p.to ?? p.message]), [
    [
      "backref",
      "failed",
      'invalid updateInfo.versionRegex "^(v)\\1?([0-9.]+)$": it cannot run in linear time (backreferences are not supported); write it without them',
    ],
    ["jansson", "outdated", "2.16.0"],
  ]);
});

Deno.test("tags with control characters: never chosen, and shown escaped (no escape sequence reaches the terminal)", async () => {
  await using server = startHttpServer();
  // No git tag can hold a control character (git check-ref-format): such an answer is hostile.
  // An unanchored versionRegex reads 2.16.0 out of it; the tag must not become the new tag.
  server.route("GET /repos/akheron/jansson/releases?per_page=100", {
    json: [{ tag_name: "v2.16.0\u001b]0;pwned\u0007" }, { tag_name: "v2.15.1" }],
  });
  server.route("GET /repos/01mf02/jaq/releases?per_page=100", {
    json: [{ tag_name: "\u001b[2Jnightly\nSigned-off-by: x" }],
  });
  const jansson = corpus("jansson").replace(
    'repo = "jansson"; };',
    'repo = "jansson"; versionRegex = "([0-9]+[.][0-9]+[.][0-9]+)"; };',
  );
  await using repo = await createStandInRepo(server.url, { jansson, jaq: corpus("jaq") });
  await using bin = await updateProgramsBin();
  const json = await runTask(repo.dir, "update", ["--check", "--json"], {
    bin,
    env: env(server.url),
  });
  assertEquals(json.code, 0, json.stderr);
  const report = JSON.parse(json.stdout) as Report;
  assertEquals(report.packages.map((p) => [p.name, p.kind]), [
    ["jansson", "up-to-date"],
    ["jaq", "unknown"],
  ]);
  assertEquals(
    report.packages[1]!.reason,
    'none of the 1 tag(s) of GitHub 01mf02/jaq ("\\u001b[2Jnightly\\nSigned-off-by: x") reads as a version by the shape of the current tag "v2.3.0"; set updateInfo.versionRegex',
  );
  const table = await runTask(repo.dir, "update", ["--check"], { bin, env: env(server.url) });
  assertEquals(table.code, 0, table.stderr);
  const control = (text: string) =>
    [...text].some((c) => c !== "\n" && (c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f));
  assertEquals(control(table.stdout) || control(table.stderr), false, table.stdout);
  // One line per package under the header.
  assertEquals(table.stdout.trimEnd().split("\n").length, 3, table.stdout);
});

Deno.test("an answer whose headers are too large: the failure names that cause, not only 'fetch failed'", async () => {
  await using server = startHttpServer();
  server.route(
    "GET /repos/akheron/jansson/releases?per_page=100",
    () => new Response("[]", { headers: { "x-padding": "a".repeat(1024 * 1024) } }),
  );
  await using repo = await createStandInRepo(server.url, { jansson: corpus("jansson") });
  await using bin = await updateProgramsBin();
  const result = await runTask(repo.dir, "update", ["--check", "--json"], {
    bin,
    env: env(server.url),
  });
  assertEquals(result.code, 1, result.stderr);
  const report = JSON.parse(result.stdout) as Report;
  assertEquals(report.packages.map((p) => [p.name, p.kind]), [["jansson", "failed"]]);
  assertEquals(
    report.packages[0]!.message,
    `Cannot reach GitHub at ${server.url}/repos/akheron/jansson/releases?per_page=100: fetch failed: message head is too large`,
  );
});

Deno.test("update --commit with a locked git index: fails naming index.lock, the file as it was", async () => {
  await using upstream = startUpstream();
  const old = { body: "l1", deps: "l1" };
  await upstream.releases("o", "locked", [
    { tag: "v1.0.0", files: old },
    { tag: "v1.1.0", files: { body: "l2", deps: "l2" } },
  ]);
  await using repo = await createPackageRepo([
    await githubReleasePackage(upstream, "locked", "1.0.0", old),
  ]);
  await using bin = await updateProgramsBin();
  const original = await repo.read("locked");
  // Another git process (or one that crashed) holds the index.
  await Deno.writeTextFile(repo.path(".git/index.lock"), "");
  const result = await runTask(repo.dir, "update", ["--commit", "--no-build"], {
    bin,
    env: { ...upstream.env, ...GIT_IDENTITY },
  });
  assertEquals(result.code, 1, result.stderr);
  // git's cause is its `fatal:` line, not the last line of its advice.
  assertMatch(
    result.stdout,
    /locked\s+1\.0\.0 -> 1\.1\.0\s+failed \(commit\): Unable to create '[^']*\.git\/index\.lock': File exists\.$/m,
  );
  assertEquals(await repo.read("locked"), original);
  await Deno.remove(repo.path(".git/index.lock"));
  assertEquals((await repo.git("status", "--porcelain")).trim(), "");
});

Deno.test("a versionRegex whose group holds the tag's v: the version written has no v, like the current one", async () => {
  await using server = startHttpServer();
  server.route("GET /repos/akheron/jansson/releases?per_page=100", {
    json: [{ tag_name: "v2.16.0" }, { tag_name: "v2.15.1" }],
  });
  // nix-update's default regex is "(.*)": group 1 is the whole tag, `v` and all.
  const jansson = corpus("jansson").replace(
    'repo = "jansson"; };',
    'repo = "jansson"; versionRegex = "^(.*)$"; };',
  );
  await using repo = await createStandInRepo(server.url, { jansson });
  await using bin = await updateProgramsBin();
  const result = await runTask(repo.dir, "update", ["--check", "--json"], {
    bin,
    env: env(server.url),
  });
  assertEquals(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as Report;
  assertEquals(report.packages.map((p) => [p.name, p.kind, p.to]), [
    ["jansson", "outdated", "2.16.0"],
  ]);
});

Deno.test("a tag of a megabyte: the unknown reason stays one short line", async () => {
  await using server = startHttpServer();
  const huge = `x${"y".repeat(1024 * 1024)}`;
  server.route("GET /repos/01mf02/jaq/releases?per_page=100", {
    json: [{ tag_name: huge }, { tag_name: "nightly" }],
  });
  await using repo = await createStandInRepo(server.url, { jaq: corpus("jaq") });
  await using bin = await updateProgramsBin();
  const result = await runTask(repo.dir, "update", ["--check", "--json"], {
    bin,
    env: env(server.url),
  });
  assertEquals(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as Report;
  assertEquals(
    report.packages[0]!.reason,
    `none of the 2 tag(s) of GitHub 01mf02/jaq ("x${
      "y".repeat(59)
    }…" (1048577 characters), "nightly") reads as a version by the shape of the current tag "v2.3.0"; set updateInfo.versionRegex`,
  );
});
