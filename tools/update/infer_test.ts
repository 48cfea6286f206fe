// Issue 27: package files as published (no passthru.updateInfo) update from the upstream their
// src names (GitHub, npm, GitLab, Gitea/Codeberg, PyPI, crates.io), and a file whose upstream
// cannot be inferred says what to add. Real programs: the task as a subprocess, nix building with the update stand-in, a local upstream
// whose answers have the shapes of the real APIs (provenance in README's "Updating").
import { assert, assertEquals } from "../testing/assert.ts";
import { startHttpServer } from "../testing/http_server.ts";
import { runProgram } from "../testing/run.ts";
import { CHECKOUT, runTask } from "../testing/task.ts";
import { currentSystem } from "./facts.ts";
import { inferFromUrl } from "./infer.ts";
import { createStandInRepo, tarGz, updateProgramsBin } from "./_test_support.ts";

const SYSTEM = currentSystem();
const CORPUS = `${CHECKOUT}/tools/testing/fixtures/packages`;

/** A corpus file as it was published: the one `updateInfo` line the MANIFEST says was added, removed. */
export function asPublished(name: string): string {
  const text = Deno.readTextFileSync(`${CORPUS}/${name}/package.nix`);
  const lines = text.split("\n");
  const kept = lines.filter((l) => !/^\s*(passthru\.)?updateInfo = \{.*\};\s*$/.test(l));
  assert(kept.length >= lines.length - 1, `${name}: one updateInfo line at most`);
  return kept.join("\n");
}

/** Every base URL pointed at the local upstream. */
export function upstreamEnv(url: string): Record<string, string> {
  return {
    GITHUB_API_URL: url,
    GITHUB_SERVER_URL: `${url}/web`,
    NPM_REGISTRY_URL: url,
    GITLAB_API_URL: `${url}/api/v4`,
    GITEA_API_URL: `${url}/api/v1`,
    PYPI_URL: url,
    CRATES_IO_API_URL: `${url}/api/v1`,
  };
}

function source(name: string, version: string): Promise<Uint8Array> {
  const line = `${name} ${version}`;
  return tarGz(`${name}-${version}`, {
    marker: `${line}\n`,
    "go.sum": `${line} go.sum\n`,
    "Cargo.lock": `${line} Cargo.lock\n`,
    "package-lock.json": `${line} package-lock.json\n`,
  });
}

Deno.test("inferFromUrl() reads the URLs nixpkgs' fetchers give", () => {
  const info = (url: string) => {
    const found = inferFromUrl(url);
    return found?.kind === "inferred" ? found.info : undefined;
  };
  assertEquals(info("https://github.com/01mf02/jaq/archive/refs/tags/v2.3.0.tar.gz"), {
    source: "github",
    owner: "01mf02",
    repo: "jaq",
  });
  assertEquals(
    inferFromUrl("https://github.com/jqlang/jq/releases/download/jq-1.8.2/jq-1.8.2.tar.gz"),
    {
      kind: "inferred",
      info: { source: "github", owner: "jqlang", repo: "jq" },
      currentTag: "jq-1.8.2",
    },
  );
  // nixpkgs' fetchFromGitLab (pkgs/build-support/fetchgitlab): the API archive URL.
  assertEquals(
    info("https://gitlab.com/api/v4/projects/esr%2Floccount/repository/archive.tar.gz?sha=2.16"),
    { source: "gitlab", owner: "esr", repo: "loccount" },
  );
  assertEquals(
    info(
      "https://gitlab.gnome.org/api/v4/projects/GNOME%2Fgnome%2Dtour/repository/archive.tar.gz?sha=1",
    ),
    { source: "gitlab", domain: "gitlab.gnome.org", owner: "GNOME", repo: "gnome-tour" },
  );
  assertEquals(
    info("https://registry.npmjs.org/@anthropic-ai/claude-code/-/claude-code-2.1.90.tgz"),
    {
      source: "npm",
      name: "@anthropic-ai/claude-code",
    },
  );
  assertEquals(info("https://registry.npmjs.org/prettier/-/prettier-3.0.0.tgz"), {
    source: "npm",
    name: "prettier",
  });
  assertEquals(info("mirror://pypi/b/bottle/bottle-0.12.16.tar.gz"), {
    source: "pypi",
    name: "bottle",
  });
  assertEquals(info("https://crates.io/api/v1/crates/oxvg/0.0.5/download"), {
    source: "crates",
    name: "oxvg",
  });
  assertEquals(info("https://static.crates.io/crates/ripgrep/ripgrep-14.1.0.crate"), {
    source: "crates",
    name: "ripgrep",
  });
  assertEquals(info("https://codeberg.org/waterkip/bum/archive/refs/tags/v2.2.tar.gz"), {
    source: "gitea",
    domain: "codeberg.org",
    owner: "waterkip",
    repo: "bum",
  });
  assertEquals(inferFromUrl("mirror://gnu/hello/hello-2.12.1.tar.gz"), undefined);
});

interface Row {
  name: string;
  kind: string;
  to?: string;
  step?: string;
  message?: string;
  reason?: string;
}

Deno.test("package files as published (no updateInfo) update from the upstream their src names; an unknown host gets the line to add", async () => {
  await using server = startHttpServer();
  const serve = async (path: string, name: string, version: string) =>
    server.route(`GET ${path}`, { body: await source(name, version) });
  // GitHub (fetchFromGitHub, and a release asset fetched with fetchurl).
  server.route("GET /repos/01mf02/jaq/releases?per_page=100", {
    json: [{ tag_name: "v2.4.0" }, { tag_name: "v2.3.0" }],
  });
  await serve("/github.com/01mf02/jaq/archive/refs/tags/v2.4.0.tar.gz", "jaq", "2.4.0");
  server.route("GET /repos/jqlang/jq/releases?per_page=100", {
    json: [{ tag_name: "jq-1.8.3" }, { tag_name: "jq-1.8.2" }],
  });
  await serve("/github.com/jqlang/jq/releases/download/jq-1.8.3/jq-1.8.3.tar.gz", "jq", "1.8.3");
  // npm (fetchzip of the registry tarball).
  server.route("GET /@anthropic-ai%2Fclaude-code", {
    json: { "dist-tags": { latest: "2.1.91" }, versions: { "2.1.90": {}, "2.1.91": {} } },
  });
  await serve(
    "/registry.npmjs.org/@anthropic-ai/claude-code/-/claude-code-2.1.91.tgz",
    "claude-code",
    "2.1.91",
  );
  // GitLab (fetchFromGitLab): no releases, tags.
  server.route("GET /api/v4/projects/esr%2Floccount/releases?per_page=100", { json: [] });
  server.route("GET /api/v4/projects/esr%2Floccount/repository/tags?per_page=100", {
    json: [{ name: "2.17" }, { name: "2.16" }],
  });
  await serve(
    "/gitlab.com/api/v4/projects/esr%2Floccount/repository/archive.tar.gz?sha=2.17",
    "loccount",
    "2.17",
  );
  // PyPI (fetchPypi's mirror://pypi): a yanked and a pre-release version are not taken.
  server.route("GET /pypi/bottle/json", {
    json: {
      info: { name: "bottle", version: "0.12.25" },
      releases: {
        "0.12.16": [{ filename: "bottle-0.12.16.tar.gz", yanked: false }],
        "0.12.25": [{ filename: "bottle-0.12.25.tar.gz", yanked: false }],
        "0.12.26": [{ filename: "bottle-0.12.26.tar.gz", yanked: true }],
        "0.13.0.dev1": [{ filename: "bottle-0.13.0.dev1.tar.gz", yanked: false }],
      },
    },
  });
  await serve(
    "/files.pythonhosted.org/packages/source/b/bottle/bottle-0.12.25.tar.gz",
    "bottle",
    "0.12.25",
  );
  // Gitea/Forgejo on Codeberg (fetchFromGitea): releases; tags when there are none.
  server.route("GET /api/v1/repos/jbruchon/libjodycode/releases?limit=50", {
    json: [
      { tag_name: "v4.2-rc1", prerelease: true, draft: false },
      { tag_name: "v4.1", prerelease: false, draft: false },
      { tag_name: "v4.0.1", prerelease: false, draft: false },
    ],
  });
  await serve("/codeberg.org/jbruchon/libjodycode/archive/v4.1.tar.gz", "libjodycode", "4.1");
  server.route("GET /api/v1/repos/waterkip/bum/releases?limit=50", { json: [] });
  server.route("GET /api/v1/repos/waterkip/bum/tags?limit=50", {
    json: [{ name: "v2.3", id: "a".repeat(40) }, { name: "v2.2", id: "b".repeat(40) }],
  });
  await serve("/codeberg.org/waterkip/bum/archive/refs/tags/v2.3.tar.gz", "bum", "2.3");
  // crates.io (fetchCrate): a yanked version is not taken.
  server.route("GET /api/v1/crates/oxvg", {
    json: {
      crate: { name: "oxvg", max_version: "0.0.7", max_stable_version: "0.0.7" },
      versions: [
        { num: "0.0.7", yanked: true },
        { num: "0.0.6", yanked: false },
        { num: "0.0.5", yanked: false },
      ],
    },
  });
  await serve("/crates.io/api/v1/crates/oxvg/0.0.6/download", "oxvg", "0.0.6");

  const names = [
    "jaq",
    "jq",
    "claude-code",
    "loccount",
    "bottle",
    "libjodycode",
    "bum",
    "oxvg",
    "hello",
  ];
  const files = Object.fromEntries(names.map((n) => [n, asPublished(n)]));
  for (const [name, text] of Object.entries(files)) {
    assert(!text.includes("updateInfo"), `${name} has no updateInfo`);
  }
  await using repo = await createStandInRepo(server.url, files);
  await using bin = await updateProgramsBin();
  const result = await runTask(repo.dir, "update", ["--json"], {
    bin,
    env: upstreamEnv(server.url),
  });
  const rows = (JSON.parse(result.stdout) as { packages: Row[] }).packages;
  const row = (name: string) => rows.find((r) => r.name === name)!;
  const expected: Record<string, string> = {
    jaq: "2.4.0",
    jq: "1.8.3",
    "claude-code": "2.1.91",
    loccount: "2.17",
    bottle: "0.12.25",
    libjodycode: "4.1",
    bum: "2.3",
    oxvg: "0.0.6",
  };
  for (const [name, version] of Object.entries(expected)) {
    assertEquals([row(name).kind, row(name).to], ["updated", version], JSON.stringify(row(name)));
    // Every hash right: nix builds the file as written, from the served source.
    const built = await runProgram(
      ["nix", "build", "--no-link", "--json", `${repo.dir}#packages.${SYSTEM}.${name}`],
    );
    assertEquals(built.code, 0, `${name}: ${built.stderr}`);
    const out = (JSON.parse(built.stdout) as { outputs: { out: string } }[])[0]!.outputs.out;
    const first = (await Deno.readTextFile(out)).split("\n")[0]!;
    assert(
      first === `${name} ${version}` || first.startsWith("file "),
      `${name} built from ${first}`,
    );
  }
  // No upstream to infer (mirror://gnu): skipped, saying what to add.
  const hello = row("hello");
  assertEquals(hello.kind, "skipped");
  assertEquals(
    hello.reason,
    'no passthru.updateInfo, and the source URL mirror://gnu/hello/hello-2.12.1.tar.gz names no known upstream; add passthru.updateInfo = { source = "github"; owner = "…"; repo = "…"; }; (or gitlab, gitea, npm, pypi, crates; see README, "Updating")',
  );
  assertEquals(await Deno.readTextFile(repo.path("pkgs/hello/package.nix")), files.hello);
  assertEquals(result.code, 0, result.stderr);
  // The PyPI answer was read from PYPI_URL, the crate from CRATES_IO_API_URL.
  assert(server.requests.some((r) => r.path === "/pypi/bottle/json"));
  assert(server.requests.some((r) => r.path === "/api/v1/crates/oxvg"));
});
