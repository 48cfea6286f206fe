// Upstream sources behind one interface: what versions an upstream offers for a package.
// To add a source: a zod schema for its `passthru.updateInfo`, a `Source`, an entry in SOURCES.
import { z } from "zod";
import { getJson, UpstreamError } from "./http.ts";
import { compareVersions, parseVersion, unstableVersion } from "./version.ts";

/** Where the sources find their upstreams; each base URL can be set from the environment. */
export interface SourceEnv {
  /** `GITHUB_API_URL`, default https://api.github.com. */
  githubApiUrl: string;
  /** `GITHUB_SERVER_URL`, default https://github.com: the web pages (compare links). */
  githubServerUrl: string;
  /** `GITHUB_TOKEN`: sent as a bearer token when set. */
  githubToken?: string;
  /** `NPM_REGISTRY_URL`, default https://registry.npmjs.org. */
  npmRegistryUrl: string;
  /** `GITLAB_API_URL`, default https://gitlab.com/api/v4 (https://<domain>/api/v4 for another domain). */
  gitlabApiUrl: string;
  /** Whether GITLAB_API_URL was set: then it serves every GitLab domain. */
  gitlabApiUrlSet?: boolean;
  /** `GITEA_API_URL`: serves every Gitea/Forgejo domain when set; else https://<domain>/api/v1. */
  giteaApiUrl?: string;
  /** `PYPI_URL`, default https://pypi.org (its JSON API: /pypi/<name>/json). */
  pypiUrl: string;
  /** `CRATES_IO_API_URL`, default https://crates.io/api/v1. */
  cratesApiUrl: string;
  /** Bound on each request. */
  timeoutMs: number;
}

/** The environment variables {@linkcode sourceEnvFrom} reads. */
export const SOURCE_ENV_VARS = [
  "GITHUB_API_URL",
  "GITHUB_SERVER_URL",
  "GITHUB_TOKEN",
  "NPM_REGISTRY_URL",
  "GITLAB_API_URL",
  "GITEA_API_URL",
  "PYPI_URL",
  "CRATES_IO_API_URL",
] as const;

/** Reads the base URLs and token from `env`; a base URL must be http(s). */
export function sourceEnvFrom(
  env: (name: string) => string | undefined,
  timeoutMs: number,
): SourceEnv {
  const base = (name: string, fallback: string) => {
    const value = (env(name) ?? "").trim() || fallback;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new Error(`Invalid ${name} "${value}": expected an http(s) URL`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new Error(`Invalid ${name} "${value}": expected an http(s) URL`);
    }
    return value.replace(/\/+$/, "");
  };
  const token = env("GITHUB_TOKEN")?.trim();
  return {
    githubApiUrl: base("GITHUB_API_URL", "https://api.github.com"),
    githubServerUrl: base("GITHUB_SERVER_URL", "https://github.com"),
    ...(token ? { githubToken: token } : {}),
    npmRegistryUrl: base("NPM_REGISTRY_URL", "https://registry.npmjs.org"),
    gitlabApiUrl: base("GITLAB_API_URL", "https://gitlab.com/api/v4"),
    ...((env("GITLAB_API_URL") ?? "").trim() ? { gitlabApiUrlSet: true } : {}),
    ...((env("GITEA_API_URL") ?? "").trim() ? { giteaApiUrl: base("GITEA_API_URL", "") } : {}),
    pypiUrl: base("PYPI_URL", "https://pypi.org"),
    cratesApiUrl: base("CRATES_IO_API_URL", "https://crates.io/api/v1"),
    timeoutMs,
  };
}

/** What an upstream offers: a tag (its version read by the package's tag shape) or a version. */
export interface Offer {
  /** The package version it gives, when the upstream says (npm, a branch head). */
  version?: string;
  /** What replaces the source's old `rev`/`tag`: a tag name or a commit. */
  rev: string;
  prerelease: boolean;
  /** Commit date (branch tracking), ISO 8601. */
  date?: string;
}

/** An offer whose version is known: the one the policy chose. */
export interface Candidate extends Offer {
  /** `1.3.0`, `0-unstable-2026-04-20`. */
  version: string;
}

/** What a package is now, for links from old to new. */
export interface Current {
  version: string;
  rev?: string;
}

/** One kind of upstream. */
export interface Source<Info> {
  /** How `passthru.updateInfo` names this source: `source = "github"`. */
  readonly kind: string;
  readonly schema: z.ZodType<Info>;
  /** Whether the package follows releases or a branch. */
  track(info: Info): Track;
  /** The versions the upstream offers (any order); the version policy picks one. */
  candidates(info: Info, env: SourceEnv): Promise<Offer[]>;
  /** The upstream, for messages: `GitHub o/demo`. */
  describe(info: Info): string;
  /** A page that shows what changed from `from` to `to`, for the commit message. */
  changelogUrl(info: Info, from: Current, to: Candidate, env: SourceEnv): string | undefined;
}

/** Follow releases (newest stable version) or a branch's newest commit. */
export type Track = "release" | "branch";

const identifier = z.string().regex(/^[A-Za-z0-9_.-]+$/, "expected a GitHub name");

const githubInfo = z.object({
  source: z.literal("github"),
  owner: identifier,
  repo: identifier,
  track: z.enum(["release", "branch"]).default("release"),
  /** The branch to follow; default the repository's default branch. */
  branch: z.string().regex(/^[A-Za-z0-9_./-]+$/).optional(),
  /** Reads the version out of a tag: group 1, else the whole match (nix-update's). */
  versionRegex: z.string().min(1).optional(),
});
/** `passthru.updateInfo` of a GitHub package. */
export type GithubInfo = z.infer<typeof githubInfo>;

function githubHeaders(): Record<string, string> {
  return {
    accept: "application/vnd.github+json",
    "x-github-api-version": "2022-11-28",
    "user-agent": "devops-at-home-update",
  };
}

/**
 * The one cross-origin hop a GitHub API answer may take: from api.github.com to its download
 * host codeload.github.com (archives). Any other origin is refused; with GITHUB_API_URL set
 * elsewhere (GitHub Enterprise, tests), only that origin.
 */
export function githubRedirectOrigins(apiUrl: string): string[] {
  return new URL(apiUrl).origin === "https://api.github.com" ? ["https://codeload.github.com"] : [];
}

/** One line for GitHub's rate-limit refusal (403/429 with no requests left), with the reset time. */
export function githubRateLimit(response: Response, now = Date.now()): string | undefined {
  if (response.status !== 403 && response.status !== 429) return undefined;
  const remaining = response.headers.get("x-ratelimit-remaining");
  const retryAfter = response.headers.get("retry-after");
  if (remaining !== "0" && retryAfter === null) return undefined;
  const reset = Number(response.headers.get("x-ratelimit-reset"));
  const at = Number.isFinite(reset) && reset > 0
    ? new Date(reset * 1000)
    : new Date(now + Number(retryAfter ?? 60) * 1000);
  const minutes = Math.max(0, Math.ceil((at.getTime() - now) / 60_000));
  return `GitHub API rate limit reached; it resets at ${
    at.toISOString().slice(11, 19)
  } UTC (in ${minutes} min); set GITHUB_TOKEN for a higher limit`;
}

const releases = z.array(z.object({
  tag_name: z.string(),
  prerelease: z.boolean().default(false),
  draft: z.boolean().default(false),
}));
const tags = z.array(z.object({ name: z.string() }));
const repository = z.object({ default_branch: z.string() });
const commit = z.object({
  sha: z.string().regex(/^[0-9a-f]{40}$/),
  commit: z.object({ committer: z.object({ date: z.string() }) }),
});

function parseAnswer<T>(schema: z.ZodType<T>, value: unknown, url: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new UpstreamError("bad-answer", `GitHub answered unexpected JSON for ${url}`);
  }
  return parsed.data;
}

async function github<T>(env: SourceEnv, path: string, schema: z.ZodType<T>): Promise<T> {
  const url = `${env.githubApiUrl}${path}`;
  const value = await getJson(url, {
    headers: githubHeaders(),
    ...(env.githubToken ? { privateHeaders: { authorization: `Bearer ${env.githubToken}` } } : {}),
    redirectOrigins: githubRedirectOrigins(env.githubApiUrl),
    timeoutMs: env.timeoutMs,
    upstream: "GitHub",
    rateLimit: (response) => githubRateLimit(response),
  });
  return parseAnswer(schema, value, url);
}

/** GitHub's largest page: one page of releases or tags is read per lookup. */
const RELEASES_PAGE = 100;

const latestRelease = z.object({ tag_name: z.string() });

/** The tag of GitHub's "latest release" of `repo` (`/repos/o/r`), or undefined when it has none. */
async function githubLatestRelease(env: SourceEnv, repo: string): Promise<string | undefined> {
  try {
    return (await github(env, `${repo}/releases/latest`, latestRelease)).tag_name;
  } catch (error) {
    if (error instanceof UpstreamError && error.failure === "not-found") return undefined;
    throw error;
  }
}

/** GitHub: releases (tags when there are none), or the newest commit of a branch. */
export const githubSource: Source<GithubInfo> = {
  kind: "github",
  schema: githubInfo,
  track: (info) => info.track,
  describe: (info) => `GitHub ${info.owner}/${info.repo}`,
  async candidates(info, env) {
    const repo = `/repos/${info.owner}/${info.repo}`;
    if (info.track === "branch") {
      const branch = info.branch ??
        (await github(env, repo, repository)).default_branch;
      const head = await github(env, `${repo}/commits/${encodeURIComponent(branch)}`, commit);
      const date = head.commit.committer.date;
      return [{ version: unstableVersion(date), rev: head.sha, prerelease: false, date }];
    }
    const page = await github(env, `${repo}/releases?per_page=${RELEASES_PAGE}`, releases);
    const published = page.filter((r) => !r.draft);
    // One page each: GitHub lists the newest releases first; 100 is its largest page.
    if (published.length > 0) {
      const offers = published.map((r) => ({ rev: r.tag_name, prerelease: r.prerelease }));
      // A full page may be all pre-releases (flagged, or only named so: `v3.0.0-rc.7`), hiding
      // every stable release on later pages: ask GitHub for its "latest release" too (the
      // newest non-prerelease, non-draft one; 404 when there is none).
      if (page.length >= RELEASES_PAGE) {
        const latest = await githubLatestRelease(env, repo);
        if (latest !== undefined && !offers.some((o) => o.rev === latest)) {
          offers.push({ rev: latest, prerelease: false });
        }
      }
      return offers;
    }
    return (await github(env, `${repo}/tags?per_page=100`, tags)).map((t) => ({
      rev: t.name,
      prerelease: false,
    }));
  },
  changelogUrl(info, from, to, env) {
    const base = `${env.githubServerUrl}/${info.owner}/${info.repo}`;
    return from.rev ? `${base}/compare/${from.rev}...${to.rev}` : `${base}/commits/${to.rev}`;
  },
};

const npmInfo = z.object({
  source: z.literal("npm"),
  /** The package's name in the registry: `prettier`, `@scope/name`. */
  name: z.string().regex(/^(@[a-z0-9._-]+\/)?[a-z0-9._-]+$/, "expected an npm package name"),
  track: z.literal("release").default("release"),
});
/** `passthru.updateInfo` of an npm package. */
export type NpmInfo = z.infer<typeof npmInfo>;

const packument = z.object({
  "dist-tags": z.record(z.string(), z.string()).default({}),
  versions: z.record(
    z.string(),
    z.object({ deprecated: z.union([z.string(), z.boolean()]).optional() }).passthrough(),
  ),
});

/**
 * The npm registry, read like `npm install` does: `dist-tags.latest` is the newest version
 * offered (higher versions only with --prerelease), and a deprecated version never is.
 */
export const npmSource: Source<NpmInfo> = {
  kind: "npm",
  schema: npmInfo,
  track: () => "release",
  describe: (info) => `npm ${info.name}`,
  async candidates(info, env) {
    const url = `${env.npmRegistryUrl}/${info.name.replace("/", "%2F")}`;
    const value = await getJson(url, {
      // The abbreviated metadata npm install reads: dist-tags, versions, deprecated.
      headers: { accept: "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8" },
      timeoutMs: env.timeoutMs,
      upstream: "npm",
    });
    const parsed = packument.safeParse(value);
    if (!parsed.success) {
      throw new UpstreamError("bad-answer", `npm answered unexpected JSON for ${url}`);
    }
    const latest = parseVersion(parsed.data["dist-tags"].latest ?? "");
    return Object.entries(parsed.data.versions).flatMap(([version, meta]) => {
      if (meta.deprecated !== undefined && meta.deprecated !== false) return [];
      const parsedVersion = parseVersion(version);
      const aboveLatest = latest !== undefined && parsedVersion !== undefined &&
        compareVersions(parsedVersion, latest) > 0;
      // Above latest: published under another dist-tag (next, beta): a pre-release to npm.
      return [{ version, rev: version, prerelease: version.includes("-") || aboveLatest }];
    });
  },
  changelogUrl(info, _from, to) {
    return `https://www.npmjs.com/package/${info.name}/v/${to.version}`;
  },
};

const hostName = z.string().regex(/^[A-Za-z0-9.-]+(?::\d+)?$/, "expected a host name");

const gitlabInfo = z.object({
  source: z.literal("gitlab"),
  /** The GitLab server, default gitlab.com (fetchFromGitLab's `domain`). */
  domain: hostName.optional(),
  /** The namespace, with subgroups: `esr`, `group/subgroup`. */
  owner: z.string().regex(/^[A-Za-z0-9_.-]+(?:\/[A-Za-z0-9_.-]+)*$/, "expected a GitLab namespace"),
  repo: identifier,
  track: z.literal("release").default("release"),
  versionRegex: z.string().min(1).optional(),
});
/** `passthru.updateInfo` of a GitLab package. */
export type GitlabInfo = z.infer<typeof gitlabInfo>;

const gitlabReleases = z.array(
  z.object({ tag_name: z.string(), upcoming_release: z.boolean().default(false) }),
);
const gitlabTags = z.array(z.object({ name: z.string() }));

/** The GitLab API of `domain`: GITLAB_API_URL when set, else the domain's own /api/v4. */
function gitlabApi(env: SourceEnv, domain: string | undefined): string {
  if (env.gitlabApiUrlSet || domain === undefined || domain === "gitlab.com") {
    return env.gitlabApiUrl;
  }
  return `https://${domain}/api/v4`;
}

async function gitlab<T>(
  env: SourceEnv,
  domain: string | undefined,
  path: string,
  schema: z.ZodType<T>,
): Promise<T> {
  const url = `${gitlabApi(env, domain)}${path}`;
  const value = await getJson(url, {
    headers: { accept: "application/json", "user-agent": "devops-at-home-update" },
    timeoutMs: env.timeoutMs,
    upstream: "GitLab",
  });
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new UpstreamError("bad-answer", `GitLab answered unexpected JSON for ${url}`);
  }
  return parsed.data;
}

/** GitLab (gitlab.com or GITLAB_API_URL): releases, tags when there are none. One page each. */
export const gitlabSource: Source<GitlabInfo> = {
  kind: "gitlab",
  schema: gitlabInfo,
  track: () => "release",
  describe: (info) => `GitLab ${info.owner}/${info.repo}`,
  async candidates(info, env) {
    const project = `/projects/${encodeURIComponent(`${info.owner}/${info.repo}`)}`;
    const releases = await gitlab(
      env,
      info.domain,
      `${project}/releases?per_page=100`,
      gitlabReleases,
    );
    if (releases.length > 0) {
      return releases.map((r) => ({ rev: r.tag_name, prerelease: r.upcoming_release }));
    }
    const tags = await gitlab(
      env,
      info.domain,
      `${project}/repository/tags?per_page=100`,
      gitlabTags,
    );
    return tags.map((t) => ({
      rev: t.name,
      prerelease: false,
    }));
  },
  changelogUrl(info, from, to, env) {
    const server = gitlabApi(env, info.domain).replace(/\/api\/v4$/, "");
    const base = `${server}/${info.owner}/${info.repo}`;
    return from.rev ? `${base}/-/compare/${from.rev}...${to.rev}` : `${base}/-/tags/${to.rev}`;
  },
};

const giteaInfo = z.object({
  source: z.literal("gitea"),
  /** The Gitea or Forgejo server: `codeberg.org`, `gitea.com` (fetchFromGitea's `domain`). */
  domain: hostName,
  owner: identifier,
  repo: identifier,
  track: z.enum(["release", "branch"]).default("release"),
  branch: z.string().regex(/^[A-Za-z0-9_./-]+$/).optional(),
  versionRegex: z.string().min(1).optional(),
});
/** `passthru.updateInfo` of a Gitea/Forgejo (Codeberg) package. */
export type GiteaInfo = z.infer<typeof giteaInfo>;

/** The Gitea API of `domain`: GITEA_API_URL when set, else the domain's own /api/v1. */
function giteaApi(env: SourceEnv, domain: string): string {
  return env.giteaApiUrl ?? `https://${domain}/api/v1`;
}

async function upstreamJson<T>(
  upstream: string,
  url: string,
  schema: z.ZodType<T>,
  env: SourceEnv,
): Promise<T> {
  const value = await getJson(url, {
    headers: { accept: "application/json", "user-agent": "devops-at-home-update" },
    timeoutMs: env.timeoutMs,
    upstream,
  });
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new UpstreamError("bad-answer", `${upstream} answered unexpected JSON for ${url}`);
  }
  return parsed.data;
}

// Gitea's API (swagger: /repos/{owner}/{repo}/releases, .../tags, .../commits): a release has
// tag_name, draft and prerelease like GitHub's; a tag has name; a commit has sha and
// commit.committer.date. Forgejo (Codeberg) serves the same API.
const giteaReleases = z.array(z.object({
  tag_name: z.string(),
  prerelease: z.boolean().default(false),
  draft: z.boolean().default(false),
}));
const giteaCommits = z.array(commit);

/** Gitea and Forgejo (Codeberg): releases, tags when there are none, or a branch's head. */
export const giteaSource: Source<GiteaInfo> = {
  kind: "gitea",
  schema: giteaInfo,
  track: (info) => info.track,
  describe: (info) => `Gitea ${info.domain}/${info.owner}/${info.repo}`,
  async candidates(info, env) {
    const api = `${giteaApi(env, info.domain)}/repos/${info.owner}/${info.repo}`;
    const upstream = `Gitea ${info.domain}`;
    if (info.track === "branch") {
      const branch = info.branch ??
        (await upstreamJson(upstream, api, repository, env)).default_branch;
      const heads = await upstreamJson(
        upstream,
        `${api}/commits?sha=${encodeURIComponent(branch)}&limit=1&stat=false&files=false`,
        giteaCommits,
        env,
      );
      const head = heads[0];
      if (head === undefined) return [];
      const date = head.commit.committer.date;
      return [{ version: unstableVersion(date), rev: head.sha, prerelease: false, date }];
    }
    const releases = (await upstreamJson(upstream, `${api}/releases?limit=50`, giteaReleases, env))
      .filter((r) => !r.draft);
    if (releases.length > 0) {
      return releases.map((r) => ({ rev: r.tag_name, prerelease: r.prerelease }));
    }
    return (await upstreamJson(upstream, `${api}/tags?limit=50`, tags, env)).map((t) => ({
      rev: t.name,
      prerelease: false,
    }));
  },
  changelogUrl(info, from, to) {
    const base = `https://${info.domain}/${info.owner}/${info.repo}`;
    return from.rev ? `${base}/compare/${from.rev}...${to.rev}` : `${base}/commit/${to.rev}`;
  },
};

const pypiInfo = z.object({
  source: z.literal("pypi"),
  /** The project's name on PyPI: `bottle`. */
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "expected a PyPI project name"),
  track: z.literal("release").default("release"),
});
/** `passthru.updateInfo` of a PyPI package. */
export type PypiInfo = z.infer<typeof pypiInfo>;

// PyPI's JSON API (/pypi/<project>/json, docs.pypi.org/api/json): `info.version` is the newest
// version, `releases` maps each version to its files, each with `yanked`.
const pypiProject = z.object({
  info: z.object({ version: z.string() }),
  releases: z.record(z.string(), z.array(z.object({ yanked: z.boolean().default(false) }))),
});

/**
 * PyPI: every release with a file that is not yanked; a version above `info.version` (PyPI's
 * newest) or with a pre-release suffix is a pre-release.
 */
export const pypiSource: Source<PypiInfo> = {
  kind: "pypi",
  schema: pypiInfo,
  track: () => "release",
  describe: (info) => `PyPI ${info.name}`,
  async candidates(info, env) {
    const url = `${env.pypiUrl}/pypi/${encodeURIComponent(info.name)}/json`;
    const project = await upstreamJson("PyPI", url, pypiProject, env);
    const latest = parseVersion(project.info.version);
    return Object.entries(project.releases).flatMap(([version, files]) => {
      if (files.length === 0 || files.every((f) => f.yanked)) return [];
      const parsed = parseVersion(version);
      const above = latest !== undefined && parsed !== undefined &&
        compareVersions(parsed, latest) > 0;
      return [{ version, rev: version, prerelease: above }];
    });
  },
  changelogUrl(info, _from, to) {
    return `https://pypi.org/project/${info.name}/${to.version}/`;
  },
};

const cratesInfo = z.object({
  source: z.literal("crates"),
  /** The crate's name on crates.io. */
  name: z.string().regex(/^[A-Za-z0-9_-]+$/, "expected a crate name"),
  track: z.literal("release").default("release"),
});
/** `passthru.updateInfo` of a crates.io package. */
export type CratesInfo = z.infer<typeof cratesInfo>;

// crates.io's API (/api/v1/crates/<name>, as nvchecker's cratesio source reads it): `versions`
// lists every published version with `num` and `yanked`. crates.io refuses requests without a
// User-Agent.
const crateAnswer = z.object({
  versions: z.array(z.object({ num: z.string(), yanked: z.boolean().default(false) })),
});

/** crates.io: every version that is not yanked. */
export const cratesSource: Source<CratesInfo> = {
  kind: "crates",
  schema: cratesInfo,
  track: () => "release",
  describe: (info) => `crates.io ${info.name}`,
  async candidates(info, env) {
    const url = `${env.cratesApiUrl}/crates/${info.name}`;
    const answer = await upstreamJson("crates.io", url, crateAnswer, env);
    return answer.versions.filter((v) => !v.yanked).map((v) => ({
      version: v.num,
      rev: v.num,
      prerelease: false,
    }));
  },
  changelogUrl(info, _from, to) {
    return `https://crates.io/crates/${info.name}/${to.version}`;
  },
};

/** Every source, by the name `passthru.updateInfo.source` uses. */
// deno-lint-ignore no-explicit-any
export const SOURCES: Record<string, Source<any>> = {
  [githubSource.kind]: githubSource,
  [npmSource.kind]: npmSource,
  [gitlabSource.kind]: gitlabSource,
  [giteaSource.kind]: giteaSource,
  [pypiSource.kind]: pypiSource,
  [cratesSource.kind]: cratesSource,
};
