// Real package files (tools/testing/fixtures/packages, provenance in its MANIFEST.tsv) updated
// against the local fake upstream and built with the update stand-in for nixpkgs
// (tools/testing/update_nixpkgs): each must end with the right version and every hash right
// (proven by nix building it), or a one-line refusal naming the real cause. Never a wrong
// hash, never "up to date" while the upstream has a newer release.
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { runProgram } from "../testing/run.ts";
import { CHECKOUT, runTask } from "../testing/task.ts";
import { startHttpServer, type TestHttpServer } from "../testing/http_server.ts";
import { currentSystem } from "./facts.ts";
import { createStandInRepo, tarGz, updateProgramsBin } from "./_test_support.ts";

const CORPUS = `${CHECKOUT}/tools/testing/fixtures/packages`;
const SYSTEM = currentSystem();

/** The constructs the issue lists; each must be in at least one file of the corpus. */
const REQUIRED: Record<string, RegExp> = {
  rec: /\brec \{/,
  finalAttrs: /\(finalAttrs: \{/,
  tag: /\btag = "/,
  rev: /\brev = /,
  "refs/tags": /rev = "refs\/tags\//,
  hash: /\bhash = "/,
  sha256: /\bsha256 = "/,
  fetchFromGitHub: /fetchFromGitHub \{/,
  fetchurl: /fetchurl \{/,
  fetchzip: /fetchzip \{/,
  "npm-tarball": /registry\.npmjs\.org\/.*\.tgz/,
  fetchPypi: /fetchPypi \{/,
  fetchFromGitLab: /fetchFromGitLab \{/,
  fetchFromGitea: /fetchFromGitea \{/,
  fetchSubmodules: /fetchSubmodules = true;/,
  fetchCrate: /fetchCrate \{/,
  "mirror-gnu": /mirror:\/\/gnu\//,
  buildGoModule: /buildGoModule/,
  vendorHash: /vendorHash = "/,
  "vendorHash-null": /vendorHash = null;/,
  buildRustPackage: /buildRustPackage/,
  cargoHash: /cargoHash = "/,
  buildNpmPackage: /buildNpmPackage/,
  npmDepsHash: /npmDepsHash = "/,
  "tag-prefix": /(?:tag|rev) = "[^"$]+\$\{|download\/[a-z]+-\$\{/,
  "let-version": /\blet\s+(?:\w+ = "[^"]*";\s+)*version = "/,
  versionRegex: /versionRegex = "/,
};

interface ManifestRow {
  name: string;
  repo: string;
  commit: string;
  path: string;
  constructs: string[];
}

async function manifest(): Promise<ManifestRow[]> {
  const text = await Deno.readTextFile(`${CORPUS}/MANIFEST.tsv`);
  return text.split("\n").filter((line) => line.trim() !== "" && !line.startsWith("#")).map(
    (line) => {
      const [name, repo, commit, path, constructs] = line.split("\t");
      return {
        name: name!,
        repo: repo!,
        commit: commit!,
        path: path!,
        constructs: constructs!.split(","),
      };
    },
  );
}

Deno.test("the corpus has at least 15 real files with provenance and every listed construct in one", async () => {
  const rows = await manifest();
  assert(rows.length >= 15, `${rows.length} files`);
  const folders: string[] = [];
  for await (const entry of Deno.readDir(CORPUS)) if (entry.isDirectory) folders.push(entry.name);
  assertEquals(folders.sort(), rows.map((r) => r.name).sort(), "one MANIFEST row per file");
  const covered = new Set<string>();
  for (const row of rows) {
    assertMatch(row.repo, /^[\w.-]+\/[\w.-]+$/);
    assertMatch(row.commit, /^[0-9a-f]{40}$/);
    assertMatch(row.path, /\.nix$/);
    const text = await Deno.readTextFile(`${CORPUS}/${row.name}/package.nix`);
    for (const construct of row.constructs) {
      const pattern = REQUIRED[construct];
      assert(pattern !== undefined, `${row.name}: unknown construct tag "${construct}"`);
      assertMatch(text, pattern, `${row.name} is tagged ${construct}`);
      covered.add(construct);
    }
  }
  const missing = Object.keys(REQUIRED).filter((c) => !covered.has(c));
  assertEquals(missing, [], `constructs with no file in the corpus: ${missing.join(", ")}`);
});

/** How the fake upstream offers a package, and what the update must end with. */
interface Case {
  name: string;
  /** Routes the lookup answers with. */
  lookup: Record<string, unknown>;
  /** Mirror paths (under the server) of the new source, and whether it is served as a file. */
  source: string;
  version: string;
  /** Expected: the new version, or a refusal whose message matches. */
  expect: { version: string } | { refused: RegExp };
}

const releases = (...tags: string[]) =>
  tags.map((tag_name) => ({ tag_name, prerelease: /rc/.test(tag_name) }));
const gh = (owner: string, repo: string, ...tags: string[]) => ({
  [`/repos/${owner}/${repo}/releases?per_page=100`]: releases(...tags),
});

const CASES: Case[] = [
  {
    name: "jaeles",
    lookup: gh("jaeles-project", "jaeles", "beta-v0.17.2", "beta-v0.17.1", "v1.0.0-dev"),
    source: "/github.com/jaeles-project/jaeles/archive/beta-v0.17.2.tar.gz",
    version: "0.17.2",
    expect: { version: "0.17.2" },
  },
  {
    name: "jake",
    lookup: gh("jakejs", "jake", "v11.0.0-rc.1", "v10.9.2", "v10.9.1"),
    source: "/github.com/jakejs/jake/archive/v10.9.2.tar.gz",
    version: "10.9.2",
    expect: { version: "10.9.2" },
  },
  {
    name: "jaq",
    lookup: gh("01mf02", "jaq", "v2.4.0", "v2.3.0"),
    source: "/github.com/01mf02/jaq/archive/refs/tags/v2.4.0.tar.gz",
    version: "2.4.0",
    expect: { version: "2.4.0" },
  },
  {
    name: "jansson",
    lookup: gh("akheron", "jansson", "v2.15.2", "v2.15.1"),
    source: "/github.com/akheron/jansson/archive/refs/tags/v2.15.2.tar.gz",
    version: "2.15.2",
    expect: { version: "2.15.2" },
  },
  {
    name: "jactionlint",
    lookup: gh("jdx", "jactionlint", "v2.1.0", "v2.0.2"),
    source: "/github.com/jdx/jactionlint/archive/refs/tags/v2.1.0.tar.gz",
    version: "2.1.0",
    expect: { version: "2.1.0" },
  },
  {
    // A release asset with nixpkgs' fetchurl: the flat hash of the file.
    name: "jq",
    lookup: gh("jqlang", "jq", "jq-1.8.3", "jq-1.8.2"),
    source: "/github.com/jqlang/jq/releases/download/jq-1.8.3/jq-1.8.3.tar.gz",
    version: "1.8.3",
    expect: { version: "1.8.3" },
  },
  {
    // A repository of several crates: other crates' tags are not this package's versions.
    name: "cargo-nextest",
    lookup: gh(
      "nextest-rs",
      "nextest",
      "nextest-runner-0.99.0",
      "cargo-nextest-0.9.133",
      "cargo-nextest-0.9.132",
    ),
    source: "/github.com/nextest-rs/nextest/archive/refs/tags/cargo-nextest-0.9.133.tar.gz",
    version: "0.9.133",
    expect: { version: "0.9.133" },
  },
  {
    // npm: dist-tags.latest, never a deprecated or a higher pre-release version.
    name: "claude-code",
    lookup: {
      "/@anthropic-ai%2Fclaude-code": {
        "dist-tags": { latest: "2.1.91", next: "3.0.0-next.1" },
        versions: {
          "2.1.90": {},
          "2.1.91": {},
          "2.2.0": { deprecated: "published by mistake" },
          "3.0.0-next.1": {},
        },
      },
    },
    source: "/registry.npmjs.org/@anthropic-ai/claude-code/-/claude-code-2.1.91.tgz",
    version: "2.1.91",
    expect: { version: "2.1.91" },
  },
  {
    name: "loccount",
    lookup: {
      "/api/v4/projects/esr%2Floccount/releases?per_page=100": [],
      "/api/v4/projects/esr%2Floccount/repository/tags?per_page=100": [{ name: "2.17" }, {
        name: "2.16",
      }],
    },
    source: "/gitlab.com/api/v4/projects/esr%2Floccount/repository/archive.tar.gz?sha=2.17",
    version: "2.17",
    expect: { version: "2.17" },
  },
  {
    name: "bearer",
    lookup: gh("bearer", "bearer", "v2.0.1", "v2.0.0"),
    source: "/github.com/bearer/bearer/archive/refs/tags/v2.0.1.tar.gz",
    version: "2.0.1",
    expect: { version: "2.0.1" },
  },
  {
    // fetchPypi: a flat hash, written over a base-16 sha256.
    name: "bottle",
    lookup: gh("bottlepy", "bottle", "0.13.0.dev1", "0.12.25", "0.12.16"),
    source: "/files.pythonhosted.org/packages/source/b/bottle/bottle-0.12.25.tar.gz",
    version: "0.12.25",
    expect: { version: "0.12.25" },
  },
  {
    name: "terragrunt",
    lookup: gh("gruntwork-io", "terragrunt", "v0.47.0", "v0.46.3"),
    source: "/github.com/gruntwork-io/terragrunt/archive/refs/tags/v0.47.0.tar.gz",
    version: "0.47.0",
    expect: { version: "0.47.0" },
  },
  {
    name: "github-copilot-cli",
    lookup: {
      "/@githubnext%2Fgithub-copilot-cli": {
        "dist-tags": { latest: "0.1.34" },
        versions: { "0.1.33": {}, "0.1.34": {} },
      },
    },
    source: "/registry.npmjs.org/@githubnext/github-copilot-cli/-/github-copilot-cli-0.1.34.tgz",
    version: "0.1.34",
    expect: { version: "0.1.34" },
  },
  {
    // The upstream moved from `2.5.8` to `v2.7.3` tags; `rev = version` cannot say the `v`.
    name: "hdfs",
    lookup: gh("mtth", "hdfs", "v2.7.3", "2.5.8"),
    source: "/github.com/mtth/hdfs/archive/v2.7.3.tar.gz",
    version: "2.7.3",
    expect: {
      refused:
        /failed \(plan\): the old rev "2\.5\.8" is not a string literal .* does not follow the version to "v2\.7\.3"/,
    },
  },
  {
    // A let-bound version, inherited into buildGoModule.
    name: "poptop",
    lookup: gh("bakks", "poptop", "v0.2.0", "v0.1.8"),
    source: "/github.com/bakks/poptop/archive/v0.2.0.tar.gz",
    version: "0.2.0",
    expect: { version: "0.2.0" },
  },
  {
    // nixpkgs no longer has modSha256: refused with the stand-in's (nixpkgs') error.
    name: "jvozba",
    lookup: gh("Xe", "jvozba", "v0.1.2", "v0.1.1"),
    source: "/github.com/Xe/jvozba/archive/v0.1.2.tar.gz",
    version: "0.1.2",
    expect: { refused: /failed \(read\): does not evaluate: .*modSha256 is no longer supported/ },
  },
];

/** The source the fake upstream serves for a case: marker and lock files name the version. */
function sourceFiles(c: Case): Record<string, string> {
  const line = `${c.name} ${c.version}`;
  return {
    marker: `${line}\n`,
    "go.sum": `${line} go.sum\n`,
    "Cargo.lock": `${line} Cargo.lock\n`,
    "package-lock.json": `${line} package-lock.json\n`,
  };
}

async function serve(server: TestHttpServer): Promise<void> {
  for (const c of CASES) {
    for (const [path, json] of Object.entries(c.lookup)) server.route(`GET ${path}`, { json });
    server.route(`GET ${c.source}`, {
      body: await tarGz(`${c.name}-${c.version}`, sourceFiles(c)),
    });
  }
}

type Outcome = "correct" | "refused" | "wrong" | "silently up to date";

Deno.test("every real package file is updated right (built) or clearly refused", async () => {
  await using server = startHttpServer();
  await serve(server);
  const files: Record<string, string> = {};
  for (const c of CASES) {
    files[c.name] = await Deno.readTextFile(`${CORPUS}/${c.name}/package.nix`);
  }
  await using repo = await createStandInRepo(server.url, files);
  await using bin = await updateProgramsBin();
  const before = Object.fromEntries(
    await Promise.all(
      CASES.map(async (
        c,
      ) => [c.name, await Deno.readTextFile(repo.path(`pkgs/${c.name}/package.nix`))]),
    ),
  );

  const result = await runTask(repo.dir, "update", ["--json", "--parallel", "4"], {
    bin,
    env: {
      GITHUB_API_URL: server.url,
      GITHUB_SERVER_URL: `${server.url}/web`,
      NPM_REGISTRY_URL: server.url,
      GITLAB_API_URL: `${server.url}/api/v4`,
    },
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(result.stdout);
  } catch {
    throw new Error(`update printed no JSON report (exit ${result.code}): ${result.stderr}`);
  }
  const report = parsed as {
    packages: { name: string; kind: string; to?: string; message?: string; step?: string }[];
  };
  const outcomes: Record<string, Outcome> = {};
  const problems: string[] = [];
  for (const c of CASES) {
    const row = report.packages.find((p) => p.name === c.name);
    const text = await Deno.readTextFile(repo.path(`pkgs/${c.name}/package.nix`));
    const line = row?.kind === "failed"
      ? `failed (${row.step}): ${row.message}`
      : JSON.stringify(row);
    if ("refused" in c.expect) {
      const clear = row?.kind === "failed" && c.expect.refused.test(line) && !line.includes("\n");
      outcomes[c.name] = clear
        ? "refused"
        : row?.kind === "up-to-date"
        ? "silently up to date"
        : "wrong";
      if (!clear) problems.push(`${c.name}: expected a refusal ${c.expect.refused}, got ${line}`);
      if (text !== before[c.name]) problems.push(`${c.name}: refused but the file changed`);
      continue;
    }
    if (row?.kind !== "updated" || row.to !== c.expect.version) {
      outcomes[c.name] = row?.kind === "up-to-date" ? "silently up to date" : "wrong";
      problems.push(`${c.name}: expected updated to ${c.expect.version}, got ${line}`);
      continue;
    }
    // Every hash right: nix builds the package from the file as written, fetching the served
    // source at the written hash and building each dependency derivation at its hash.
    const built = await runProgram([
      "nix",
      "build",
      "--no-link",
      "--json",
      `${repo.dir}#packages.${SYSTEM}.${c.name}`,
    ]);
    if (built.code !== 0) {
      outcomes[c.name] = "wrong";
      problems.push(
        `${c.name}: the updated file does not build: ${built.stderr.trim().split("\n").at(-1)}`,
      );
      continue;
    }
    const path = (JSON.parse(built.stdout) as { outputs: { out: string } }[])[0]!.outputs.out;
    const out = (await Deno.readTextFile(path)).trim().split("\n");
    const fromSource = out[0]!.startsWith("file ") || out[0] === `${c.name} ${c.version}`;
    if (!fromSource || (out.length > 1 && !out[1]!.startsWith(`${c.name} ${c.version}`))) {
      outcomes[c.name] = "wrong";
      problems.push(`${c.name}: built from the wrong source or dependencies: ${out.join(" | ")}`);
      continue;
    }
    outcomes[c.name] = "correct";
  }
  const score = (o: Outcome) => Object.values(outcomes).filter((x) => x === o).length;
  console.log(
    `corpus score: ${score("correct")} correct, ${score("refused")} clearly refused, ${
      score("wrong")
    } wrong, ${score("silently up to date")} silently up to date (of ${CASES.length})`,
  );
  assertEquals(problems, [], result.stderr);
  assertEquals(result.code, 1, "a refused package makes the run exit 1");
});
