// Test support for the update tool: an upstream on 127.0.0.1 (GitHub and npm APIs, tarballs)
// and a fixture flake whose packages fetch those tarballs with nix's own fetcher and carry a
// fixed-output dependencies derivation. Imported by tests and the benchmark only.
import { runProgramOk } from "../testing/run.ts";
import { startHttpServer, type TestHttpServer } from "../testing/http_server.ts";
import { createTempRepo, type TempRepo } from "../testing/temp_repo.ts";
import { createProgramsBin, installToolkit, type ProgramsBin } from "../testing/task.ts";
import { currentSystem } from "./facts.ts";

/** What a fixture tarball holds: the files every fixture package reads. */
export interface TarballFiles {
  /** Goes into the package's output. */
  body: string;
  /** Read by the dependencies derivation: its hash changes with it. */
  deps: string;
  /** Makes the package's build fail. */
  failBuild?: boolean;
}

/** A tar.gz with one top folder `top` holding the fixture files (made by the real tar). */
export function makeTarball(top: string, files: TarballFiles): Promise<Uint8Array> {
  return tarGz(top, {
    "body.txt": `${files.body}\n`,
    "deps.txt": `${files.deps}\n`,
    ...(files.failBuild ? { fail: "1\n" } : {}),
  });
}

/** A tar.gz with one top folder `top` holding `files` (name to text), made by the real tar. */
export async function tarGz(top: string, files: Record<string, string>): Promise<Uint8Array> {
  const dir = await Deno.makeTempDir({ prefix: "devops-tarball-" });
  try {
    await Deno.mkdir(`${dir}/${top}`);
    for (const [name, text] of Object.entries(files)) {
      await Deno.writeTextFile(`${dir}/${top}/${name}`, text);
    }
    const out = await new Deno.Command("tar", {
      args: ["--sort=name", "--mtime=@0", "--owner=0", "--group=0", "-czf", "-", "-C", dir, top],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`tar failed: ${new TextDecoder().decode(out.stderr)}`);
    return out.stdout;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The SRI hash nix gives the unpacked tarball at `url` (what fetchTarball checks). */
export async function prefetchHash(url: string): Promise<string> {
  const base32 = (await runProgramOk(["nix-prefetch-url", "--unpack", "--name", "source", url]))
    .trim();
  return (await runProgramOk(["nix", "hash", "to-sri", "--type", "sha256", base32])).trim();
}

/** The SRI hash of the fixture dependencies derivation's output for `deps`. */
export async function depsHash(deps: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "devops-deps-" });
  try {
    await Deno.writeTextFile(`${dir}/out`, `${deps}\n`);
    return (await runProgramOk(["nix", "hash", "path", "--type", "sha256", "--sri", `${dir}/out`]))
      .trim();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** A release on the fixture GitHub. */
export interface FixtureRelease {
  tag: string;
  prerelease?: boolean;
  files: TarballFiles;
}

/** A branch head on the fixture GitHub. */
export interface FixtureCommit {
  sha: string;
  /** ISO 8601 commit date. */
  date: string;
  files: TarballFiles;
}

/** The upstream server with helpers that publish releases, commits and npm versions. */
export interface Upstream extends AsyncDisposable {
  readonly server: TestHttpServer;
  readonly url: string;
  /** Environment that points the tool at this server. */
  readonly env: Record<string, string>;
  /** Publishes releases of `owner/repo` (replacing earlier ones) and serves their tarballs. */
  releases(owner: string, repo: string, releases: readonly FixtureRelease[]): Promise<void>;
  /** Makes `commit` the head of the default branch `main`. */
  branchHead(owner: string, repo: string, commit: FixtureCommit): Promise<void>;
  /** Publishes npm versions of `name` with their tarballs. */
  npmVersions(name: string, versions: Record<string, TarballFiles>): Promise<void>;
  /** URL of a GitHub archive tarball. */
  archiveUrl(owner: string, repo: string, ref: string): string;
  npmTarballUrl(name: string, version: string): string;
}

/** Starts the fixture upstream on 127.0.0.1. */
export function startUpstream(): Upstream {
  const server = startHttpServer();
  const archivePath = (owner: string, repo: string, ref: string) =>
    `/${owner}/${repo}/archive/${ref}.tar.gz`;
  const npmPath = (name: string, version: string) => `/${name}/-/${name}-${version}.tgz`;
  return {
    server,
    url: server.url,
    env: {
      GITHUB_API_URL: server.url,
      GITHUB_SERVER_URL: `${server.url}/web`,
      NPM_REGISTRY_URL: server.url,
    },
    async releases(owner, repo, releases) {
      for (const r of releases) {
        const tarball = await makeTarball(`${repo}-${r.tag}`, r.files);
        server.route(`GET ${archivePath(owner, repo, r.tag)}`, { body: tarball });
      }
      server.route(`GET /repos/${owner}/${repo}/releases?per_page=100`, {
        json: releases.map((r) => ({
          tag_name: r.tag,
          prerelease: r.prerelease ?? false,
          draft: false,
        })),
      });
    },
    async branchHead(owner, repo, commit) {
      const tarball = await makeTarball(`${repo}-${commit.sha}`, commit.files);
      server.route(`GET ${archivePath(owner, repo, commit.sha)}`, { body: tarball });
      server.route(`GET /repos/${owner}/${repo}`, { json: { default_branch: "main" } });
      server.route(`GET /repos/${owner}/${repo}/commits/main`, {
        json: { sha: commit.sha, commit: { committer: { date: commit.date } } },
      });
    },
    async npmVersions(name, versions) {
      for (const [version, files] of Object.entries(versions)) {
        server.route(`GET ${npmPath(name, version)}`, {
          body: await makeTarball("package", files),
        });
      }
      server.route(`GET /${name}`, {
        json: { name, versions: Object.fromEntries(Object.keys(versions).map((v) => [v, {}])) },
      });
    },
    archiveUrl: (owner, repo, ref) => `${server.url}${archivePath(owner, repo, ref)}`,
    npmTarballUrl: (name, version) => `${server.url}${npmPath(name, version)}`,
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/** One fixture package. */
export interface FixturePackage {
  name: string;
  version: string;
  /** How the source is named: a release tag, a branch commit, or an npm version (none). */
  ref: { tag: string } | { rev: string } | { npm: true };
  /** The source tarball's URL, with `@REF@` where the tag/rev or version goes. */
  urlTemplate: string;
  srcHash: string;
  depsHash: string;
  /** Nix text of `passthru.updateInfo`'s attribute set body. */
  updateInfo: string;
  /** Extra Nix bindings in the `let` (e.g. a second literal of a value). */
  extra?: string;
}

/** The Nix text of a fixture package.nix. */
export function packageNix(p: FixturePackage): string {
  const refBinding = "tag" in p.ref
    ? `    tag = "${p.ref.tag}";\n`
    : "rev" in p.ref
    ? `    rev = "${p.ref.rev}";\n`
    : "";
  const refAttr = "tag" in p.ref ? "${tag}" : "rev" in p.ref ? "${rev}" : "${version}";
  const url = p.urlTemplate.replace("@REF@", refAttr);
  return `# Fixture package ${p.name}: a source tarball and a fixed-output dependencies derivation.
{ system }:
let
  pname = "${p.name}";
  version = "${p.version}";
${p.extra ?? ""}  src = rec {
    name = "source";
${refBinding}    url = "${url}";
    outputHash = "${p.srcHash}";
    outPath = builtins.fetchTarball {
      inherit name url;
      sha256 = outputHash;
    };
  };
  npmDeps = derivation {
    name = "\${pname}-\${version}-deps";
    inherit system;
    builder = "/bin/sh";
    args = [ "-c" "read -r line < \${src}/deps.txt; echo \\"$line\\" > $out" ];
    outputHashMode = "recursive";
    outputHashAlgo = "sha256";
    outputHash = "${p.depsHash}";
  };
in
derivation {
  name = "\${pname}-\${version}";
  inherit system;
  builder = "/bin/sh";
  args = [
    "-c"
    "if [ -e \${src}/fail ]; then echo fixture build fails >&2; exit 1; fi; read -r body < \${src}/body.txt; read -r dep < \${npmDeps}; echo \\"$body $dep\\" > $out"
  ];
}
// {
  inherit pname version src npmDeps;
  passthru.updateInfo = {
${p.updateInfo.trimEnd()}
  };
}
`;
}

const FLAKE_NIX =
  `# Fixture flake for the update tool: every pkgs/<name>/package.nix, with no inputs.
{
  outputs = { self }:
    let
      system = "${currentSystem()}";
    in
    {
      packages.\${system} = builtins.mapAttrs (
        name: _type: import (./pkgs + "/\${name}/package.nix") { inherit system; }
      ) (builtins.readDir ./pkgs);
    };
}
`;

/** A fixture repository: flake.nix, configurations/, pkgs/<name>/package.nix. */
export interface PackageRepo extends TempRepo {
  readonly packages: readonly FixturePackage[];
  file(name: string): string;
  read(name: string): Promise<string>;
}

/** The files of a fixture repository holding `packages`. */
export function packageRepoTree(packages: readonly FixturePackage[]): Record<string, string> {
  const tree: Record<string, string> = {
    "flake.nix": FLAKE_NIX,
    "configurations/.keep": "",
  };
  for (const p of packages) tree[`pkgs/${p.name}/package.nix`] = packageNix(p);
  return tree;
}

/** Writes and commits a fixture repository with the toolkit installed. */
export async function createPackageRepo(packages: readonly FixturePackage[]): Promise<PackageRepo> {
  const repo = await createTempRepo(packageRepoTree(packages));
  await installToolkit(repo.dir);
  // The toolkit is not part of what the tool may touch; commit it so the tree is clean.
  await repo.git("add", "-A");
  await repo.git("commit", "-q", "-m", "toolkit");
  const file = (name: string) => repo.path(`pkgs/${name}/package.nix`);
  return {
    ...repo,
    packages,
    file,
    read: (name) => Deno.readTextFile(file(name)),
  };
}

/** A GitHub-release package whose current release `tag` is published on `upstream`. */
export async function githubReleasePackage(
  upstream: Upstream,
  name: string,
  version: string,
  files: TarballFiles,
  extra: Partial<FixturePackage> = {},
): Promise<FixturePackage> {
  const tag = `v${version}`;
  return {
    name,
    version,
    ref: { tag },
    urlTemplate: upstream.archiveUrl("o", name, "@REF@"),
    srcHash: await prefetchHash(upstream.archiveUrl("o", name, tag)),
    depsHash: await depsHash(files.deps),
    updateInfo:
      `    source = "github";\n    owner = "o";\n    repo = "${name}";\n    track = "release";`,
    ...extra,
  };
}

/** The programs the update tool runs, on a PATH outside the repository. */
export function updateProgramsBin(): Promise<ProgramsBin> {
  return createProgramsBin(["git", "nix", "nix-prefetch-url"]);
}

/** Git identity for commits made by the tool in tests. */
export const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: "test",
  GIT_AUTHOR_EMAIL: "test@example.invalid",
  GIT_COMMITTER_NAME: "test",
  GIT_COMMITTER_EMAIL: "test@example.invalid",
  GIT_CONFIG_NOSYSTEM: "1",
};

/** A package that follows the default branch of `o/<name>` and is at commit `sha`. */
export async function githubBranchPackage(
  upstream: Upstream,
  name: string,
  version: string,
  sha: string,
  files: TarballFiles,
): Promise<FixturePackage> {
  return {
    name,
    version,
    ref: { rev: sha },
    urlTemplate: upstream.archiveUrl("o", name, "@REF@"),
    srcHash: await prefetchHash(upstream.archiveUrl("o", name, sha)),
    depsHash: await depsHash(files.deps),
    updateInfo:
      `    source = "github";\n    owner = "o";\n    repo = "${name}";\n    track = "branch";`,
  };
}

/** A package of the npm registry at `version`. */
export async function npmPackage(
  upstream: Upstream,
  name: string,
  version: string,
  files: TarballFiles,
): Promise<FixturePackage> {
  return {
    name,
    version,
    ref: { npm: true },
    urlTemplate: upstream.npmTarballUrl(name, "@REF@"),
    srcHash: await prefetchHash(upstream.npmTarballUrl(name, version)),
    depsHash: await depsHash(files.deps),
    updateInfo: `    source = "npm";\n    name = "${name}";`,
  };
}

/** The update stand-in for nixpkgs (tools/testing/update_nixpkgs): what real package files call. */
const STAND_IN = new URL("../testing/update_nixpkgs/", import.meta.url).pathname;

/** flake.nix of a repository whose pkgs/ are real package files called with the stand-in. */
export const STAND_IN_FLAKE =
  `# Packages called like nixpkgs' callPackage, with the update stand-in for nixpkgs.
{
  outputs = { self }:
    let
      system = "${currentSystem()}";
      pkgs = import ./nixpkgs {
        inherit system;
        upstream = import ./upstream.nix;
        gitUpstream = if builtins.pathExists ./git-upstream.nix then import ./git-upstream.nix else null;
      };
    in
    {
      packages.\${system} = builtins.mapAttrs (
        name: _: pkgs.callPackage (./pkgs + "/\${name}/package.nix") { }
      ) (builtins.readDir ./pkgs);
    };
}
`;

/**
 * A committed repository with the toolkit whose `pkgs/<name>/package.nix` are `packages`,
 * evaluated with the stand-in, every https URL served by `upstreamUrl` as `/<host>/<path>`
 * (and every git URL cloned from `gitUpstream`'s `<host>/<path>.git` when given).
 */
export async function createStandInRepo(
  upstreamUrl: string,
  packages: Record<string, string>,
  /** A folder of git repositories `<host>/<path>.git` that fetchgit clones instead. */
  gitUpstream?: string,
): Promise<TempRepo> {
  const tree: Record<string, string> = {
    "flake.nix": STAND_IN_FLAKE,
    "upstream.nix": `"${upstreamUrl}"\n`,
    ...(gitUpstream ? { "git-upstream.nix": `"${gitUpstream}"\n` } : {}),
    "configurations/.keep": "",
  };
  for (const [name, text] of Object.entries(packages)) tree[`pkgs/${name}/package.nix`] = text;
  for await (const entry of Deno.readDir(STAND_IN)) {
    tree[`nixpkgs/${entry.name}`] = await Deno.readTextFile(`${STAND_IN}${entry.name}`);
  }
  const repo = await createTempRepo(tree);
  await installToolkit(repo.dir);
  await repo.git("add", "-A");
  await repo.git("commit", "-q", "-m", "toolkit");
  return repo;
}
