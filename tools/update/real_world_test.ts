// Regressions found on real package files and by an attack round: flat hashes, tags the tool
// cannot read, npm's dist-tags, a stalled evaluation, oversized answers, the cause of a failed
// dependency build, and redirects to another site. Real programs throughout: the task as a
// subprocess, nix building with the update stand-in for nixpkgs, a local HTTP upstream.
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/assert.ts";
import { startHttpServer } from "../testing/http_server.ts";
import { runProgramOk } from "../testing/run.ts";
import { CHECKOUT, runTask } from "../testing/task.ts";
import { currentSystem } from "./facts.ts";
import { createStandInRepo, tarGz, updateProgramsBin } from "./_test_support.ts";

const SYSTEM = currentSystem();
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
  packages: { name: string; kind: string; to?: string; message?: string; reason?: string }[];
}

function source(name: string, version: string, omit: string[] = []) {
  const line = `${name} ${version}`;
  const files: Record<string, string> = {
    marker: `${line}\n`,
    "go.sum": `${line} go.sum\n`,
    "Cargo.lock": `${line} Cargo.lock\n`,
    "package-lock.json": `${line} package-lock.json\n`,
  };
  for (const o of omit) delete files[o];
  return tarGz(`${name}-${version}`, files);
}

Deno.test("update --no-build writes fetchurl's flat file hash (not the unpacked one) and the file builds", async () => {
  await using server = startHttpServer();
  const asset = "/github.com/jqlang/jq/releases/download/jq-1.8.3/jq-1.8.3.tar.gz";
  server.route(`GET ${asset}`, { body: await source("jq", "1.8.3") });
  server.route("GET /repos/jqlang/jq/releases?per_page=100", {
    json: [{ tag_name: "jq-1.8.3" }, { tag_name: "jq-1.8.2" }],
  });
  // fetchPypi: a flat hash too, written over the file's base-16 sha256.
  const sdist = "/files.pythonhosted.org/packages/source/b/bottle/bottle-0.12.25.tar.gz";
  server.route(`GET ${sdist}`, { body: await source("bottle", "0.12.25") });
  server.route("GET /repos/bottlepy/bottle/releases?per_page=100", {
    json: [{ tag_name: "0.12.25" }, { tag_name: "0.12.16" }],
  });
  await using repo = await createStandInRepo(server.url, {
    jq: corpus("jq"),
    bottle: corpus("bottle"),
  });
  await using bin = await updateProgramsBin();
  const result = await runTask(repo.dir, "update", ["--no-build"], { bin, env: env(server.url) });
  assertEquals(result.code, 0, result.stderr);
  assertMatch(result.stdout, /bottle\s+0\.12\.16 -> 0\.12\.25\s+updated/);
  assertMatch(result.stdout, /jq\s+1\.8\.2 -> 1\.8\.3\s+updated/);

  for (const [name, path, attr] of [["jq", asset, "hash"], ["bottle", sdist, "sha256"]]) {
    const url = `${server.url}${path}`;
    const flat = (await runProgramOk(["nix-prefetch-url", "--type", "sha256", url])).trim();
    const sri = (await runProgramOk(["nix", "hash", "to-sri", "--type", "sha256", flat])).trim();
    const text = await Deno.readTextFile(repo.path(`pkgs/${name}/package.nix`));
    assertStringIncludes(text, `${attr} = "${sri}";`);
    // nix's own fetch checks the written hash.
    await runProgramOk(["nix", "build", "--no-link", `${repo.dir}#packages.${SYSTEM}.${name}`]);
  }
});

Deno.test("tags the tool cannot read, or no tags at all: unknown with the reason, exit 1 under --fail-if-outdated", async () => {
  await using server = startHttpServer();
  server.route("GET /repos/01mf02/jaq/releases?per_page=100", {
    json: [{ tag_name: "release-2.4.0" }, { tag_name: "nightly" }],
  });
  server.route("GET /repos/akheron/jansson/releases?per_page=100", { json: [] });
  server.route("GET /repos/akheron/jansson/tags?per_page=100", { json: [] });
  await using repo = await createStandInRepo(server.url, {
    jaq: corpus("jaq"),
    jansson: corpus("jansson"),
  });
  await using bin = await updateProgramsBin();
  const result = await runTask(repo.dir, "update", ["--check", "--fail-if-outdated", "--json"], {
    bin,
    env: env(server.url),
  });
  assertEquals(result.code, 1, result.stderr);
  const report = JSON.parse(result.stdout) as Report;
  assertEquals(report.packages.map((p) => [p.name, p.kind]), [["jansson", "unknown"], [
    "jaq",
    "unknown",
  ]]);
  assertEquals(report.packages[0]!.reason, "GitHub akheron/jansson offers no releases and no tags");
  assertEquals(
    report.packages[1]!.reason,
    'none of the 2 tag(s) of GitHub 01mf02/jaq ("release-2.4.0", "nightly") reads as a version by the shape of the current tag "v2.3.0"; set updateInfo.versionRegex',
  );
  // Without --fail-if-outdated the check still exits 0, and says why.
  const plain = await runTask(repo.dir, "update", ["--check"], { bin, env: env(server.url) });
  assertEquals(plain.code, 0, plain.stderr);
  assertMatch(plain.stdout, /jaq\s+2\.3\.0\s+unknown: none of the 2 tag\(s\)/);
});

Deno.test("npm: dist-tags.latest is followed and a deprecated version is never proposed", async () => {
  await using server = startHttpServer();
  server.route("GET /@anthropic-ai%2Fclaude-code", {
    json: {
      "dist-tags": { latest: "3.5.0" },
      versions: { "2.1.90": {}, "3.5.0": {}, "4.0.0": { deprecated: "broken release" } },
    },
  });
  await using repo = await createStandInRepo(server.url, { "claude-code": corpus("claude-code") });
  await using bin = await updateProgramsBin();
  const result = await runTask(repo.dir, "update", ["--check", "--json"], {
    bin,
    env: env(server.url),
  });
  assertEquals(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as Report;
  assertEquals(report.packages.map((p) => [p.kind, p.to]), [["outdated", "3.5.0"]]);
  // Even with --prerelease, the deprecated 4.0.0 is not offered.
  const pre = await runTask(repo.dir, "update", ["--check", "--json", "--prerelease"], {
    bin,
    env: env(server.url),
  });
  assertEquals((JSON.parse(pre.stdout) as Report).packages[0]!.to, "3.5.0");
});

Deno.test("--timeout bounds the evaluation of the package facts (a fetch during evaluation that stalls)", async () => {
  let release: () => void = () => {};
  const stalled = new Promise<void>((resolve) => release = resolve);
  await using server = startHttpServer();
  server.route("GET /stall", async () => {
    await stalled;
    return new Response("1.0.0");
  });
  const pkg = corpus("jaq").replace(
    'version = "2.3.0";',
    `version = builtins.readFile (builtins.fetchurl { url = "${server.url}/stall"; sha256 = "${
      "A".repeat(43)
    }="; });`,
  );
  try {
    await using repo = await createStandInRepo(server.url, { jaq: pkg });
    await using bin = await updateProgramsBin();
    const result = await runTask(repo.dir, "update", ["--check", "--timeout", "3"], {
      bin,
      env: env(server.url),
    });
    assertEquals(result.code, 1, result.stdout);
    assertStringIncludes(result.stderr, "nix eval did not finish within 3 s and was stopped");
  } finally {
    release();
  }
});

Deno.test("an upstream answer larger than the cap is refused in one line, not read whole", async () => {
  await using server = startHttpServer();
  const huge = JSON.stringify([{ tag_name: "v2.4.0", body: "x".repeat(33 * 1024 * 1024) }]);
  server.route("GET /repos/01mf02/jaq/releases?per_page=100", {
    body: huge,
    headers: { "content-type": "application/json" },
  });
  await using repo = await createStandInRepo(server.url, { jaq: corpus("jaq") });
  await using bin = await updateProgramsBin();
  const result = await runTask(repo.dir, "update", ["--check", "--json"], {
    bin,
    env: env(server.url),
  });
  assertEquals(result.code, 1, result.stderr);
  const row = (JSON.parse(result.stdout) as Report).packages[0]!;
  assertEquals(row.kind, "failed");
  assertMatch(
    row.message!,
    /^GitHub's answer for http:\/\/127\.0\.0\.1:\d+\/repos\/01mf02\/jaq\/releases\?per_page=100 is larger than 32 MiB; not read$/,
  );
});

Deno.test("a dependency build that fails for another reason is reported with nix's cause", async () => {
  await using server = startHttpServer();
  server.route("GET /repos/jaeles-project/jaeles/releases?per_page=100", {
    json: [{ tag_name: "beta-v0.17.2" }, { tag_name: "beta-v0.17.1" }],
  });
  // The new release has no go.sum: the vendor derivation fails, not with a hash mismatch.
  server.route("GET /github.com/jaeles-project/jaeles/archive/beta-v0.17.2.tar.gz", {
    body: await source("jaeles", "0.17.2", ["go.sum"]),
  });
  await using repo = await createStandInRepo(server.url, { jaeles: corpus("jaeles") });
  await using bin = await updateProgramsBin();
  const before = await Deno.readTextFile(repo.path("pkgs/jaeles/package.nix"));
  const result = await runTask(repo.dir, "update", ["--json"], { bin, env: env(server.url) });
  assertEquals(result.code, 1, result.stderr);
  const row = (JSON.parse(result.stdout) as Report).packages[0]!;
  assertEquals(row.kind, "failed");
  assertMatch(
    row.message!,
    /^nix did not build the dependencies with fake hashes: .*failed.*the source has no go\.sum/,
  );
  assert(!row.message!.includes("\n"));
  assertEquals(await Deno.readTextFile(repo.path("pkgs/jaeles/package.nix")), before);
});

Deno.test("a redirect to another site is not followed and the token is never sent there", async () => {
  await using server = startHttpServer();
  await using elsewhere = startHttpServer();
  elsewhere.route("GET /releases", { json: [{ tag_name: "v9.9.9" }] });
  server.route("GET /repos/01mf02/jaq/releases?per_page=100", {
    status: 302,
    headers: { location: `${elsewhere.url}/releases` },
  });
  // Within the same upstream a redirect is followed (GitHub moves renamed repositories).
  server.route("GET /repos/akheron/jansson/releases?per_page=100", {
    status: 301,
    headers: { location: "/repositories/42/releases?per_page=100" },
  });
  server.route("GET /repositories/42/releases?per_page=100", { json: [{ tag_name: "v2.15.2" }] });
  await using repo = await createStandInRepo(server.url, {
    jaq: corpus("jaq"),
    jansson: corpus("jansson"),
  });
  await using bin = await updateProgramsBin();
  const result = await runTask(repo.dir, "update", ["--check", "--json"], {
    bin,
    env: { ...env(server.url), GITHUB_TOKEN: "secret-token" },
  });
  const rows = (JSON.parse(result.stdout) as Report).packages;
  assertEquals(rows.map((p) => [p.name, p.kind, p.to]), [
    ["jansson", "outdated", "2.15.2"],
    ["jaq", "failed", undefined],
  ]);
  assertStringIncludes(
    rows[1]!.message!,
    `redirected ${server.url}/repos/01mf02/jaq/releases?per_page=100 to another site (${elsewhere.url}); not followed`,
  );
  assertEquals(elsewhere.requests.length, 0);
  const followed = server.requests.find((r) => r.path === "/repositories/42/releases?per_page=100");
  assertEquals(followed?.headers.authorization, "Bearer secret-token");
});
