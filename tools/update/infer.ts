// `passthru.updateInfo` inferred from a package's `src`, as nix-update reads the source URL:
// fetchFromGitHub, fetchFromGitLab, fetchFromGitea (Codeberg, Forgejo), an npm registry
// tarball, fetchPypi and fetchCrate (crates.io). Pure: the facts in, an updateInfo or the reason
// it cannot be inferred out.
import type { SourceFacts } from "./facts.ts";

/** What inference found. */
export type Inferred =
  | {
    kind: "inferred";
    /** The updateInfo the package would carry: `{ source = "github"; owner; repo; }`. */
    info: Record<string, string>;
    /** The tag the source names when only its URL says (a release asset's `download/<tag>/`). */
    currentTag?: string;
  }
  | { kind: "none"; reason: string };

/** The one line that says what to add when nothing can be inferred. */
export const ADD_LINE_HINT =
  'add passthru.updateInfo = { source = "github"; owner = "…"; repo = "…"; }; (or gitlab, gitea, npm, pypi, crates; see README, "Updating")';

/** Whether the source is fetched with git (fetchgit, or a fetchFrom* that falls back to it). */
export function isGitFetched(src: SourceFacts): boolean {
  if (src.git) return true;
  const url = src.urls[0] ?? "";
  return /^git(\+[a-z]+)?:\/\//.test(url) || /\.git\/?$/.test(url);
}

const decode = (part: string) => {
  try {
    return decodeURIComponent(part);
  } catch {
    return part;
  }
};

/** Path parts of an http(s) URL, or undefined. */
function parse(
  url: string,
): { host: string; parts: string[]; search: URLSearchParams } | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol === "mirror:") {
    // mirror://pypi/b/bottle/bottle-0.12.25.tar.gz: the host is the mirror's name.
    return {
      host: `mirror:${parsed.host}`,
      parts: parsed.pathname.split("/").filter(Boolean),
      search: parsed.searchParams,
    };
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") return undefined;
  return {
    host: parsed.host.toLowerCase(),
    parts: parsed.pathname.split("/").filter(Boolean).map(decode),
    search: parsed.searchParams,
  };
}

const NAME = /^[A-Za-z0-9_.-]+$/;

/** The updateInfo one source URL names, if it names one. */
export function inferFromUrl(url: string): Inferred | undefined {
  const u = parse(url);
  if (u === undefined) return undefined;
  const { host, parts } = u;
  const [a, b, c, d] = parts;
  const gh = (owner: string, repo: string, currentTag?: string): Inferred => ({
    kind: "inferred",
    info: { source: "github", owner, repo: repo.replace(/\.git$/, "") },
    ...(currentTag !== undefined ? { currentTag } : {}),
  });
  if (host === "github.com" && a && b && NAME.test(a)) {
    if (c === "releases" && d === "download" && parts[4]) return gh(a, b, parts[4]);
    if (c === "archive" || c === "tarball" || c === "zipball" || parts.length === 2) {
      return gh(a, b);
    }
  }
  if (host === "api.github.com" && a === "repos" && b && c && NAME.test(b)) return gh(b, c);
  // fetchFromGitLab: <domain>/api/v4/projects/<owner%2Frepo>/repository/archive.tar.gz?sha=…
  if (a === "api" && b === "v4" && c === "projects" && d && parts[4] === "repository") {
    const slug = d.split("/");
    if (slug.length >= 2) {
      return gitlab(host, slug.slice(0, -1).join("/"), slug.at(-1)!);
    }
  }
  // GitLab's web archive: <domain>/<namespace…>/<repo>/-/archive/<ref>/<file>
  const dash = parts.indexOf("-");
  if (dash >= 2 && parts[dash + 1] === "archive") {
    return gitlab(host, parts.slice(0, dash - 1).join("/"), parts[dash - 1]!);
  }
  if (host === "registry.npmjs.org" || host === "registry.yarnpkg.com") {
    // <registry>/<name>/-/<file>.tgz or <registry>/@scope/<name>/-/<file>.tgz
    const at = parts.indexOf("-");
    const name = at === 1 ? a : at === 2 && a?.startsWith("@") ? `${a}/${b}` : undefined;
    if (name) return { kind: "inferred", info: { source: "npm", name } };
  }
  // fetchPypi: mirror://pypi/<letter>/<name>/<file>, or the mirror itself.
  if (host === "mirror:pypi" && b) return { kind: "inferred", info: { source: "pypi", name: b } };
  if (
    (host === "files.pythonhosted.org" || host === "pypi.io" || host === "pypi.org") &&
    a === "packages" && b === "source" && d
  ) {
    return { kind: "inferred", info: { source: "pypi", name: d } };
  }
  // fetchCrate: crates.io/api/v1/crates/<name>/<version>/download; static.crates.io/crates/<name>/
  if (host === "crates.io" && a === "api" && c === "crates" && d) {
    return { kind: "inferred", info: { source: "crates", name: d } };
  }
  if (host === "static.crates.io" && a === "crates" && b) {
    return { kind: "inferred", info: { source: "crates", name: b } };
  }
  // fetchFromGitea (Codeberg, Forgejo): <domain>/<owner>/<repo>/archive/<ref>.tar.gz — GitHub's
  // shape on another host. (A GitHub Enterprise host has the same shape: give its updateInfo.)
  if (host !== "github.com" && a && b && c === "archive" && NAME.test(a) && NAME.test(b)) {
    return gitea(host, a, b);
  }
  return undefined;
}

function gitlab(domain: string, owner: string, repo: string): Inferred {
  return {
    kind: "inferred",
    info: {
      source: "gitlab",
      ...(domain === "gitlab.com" ? {} : { domain }),
      owner,
      repo: repo.replace(/\.git$/, ""),
    },
  };
}

function gitea(domain: string, owner: string, repo: string): Inferred {
  return {
    kind: "inferred",
    info: { source: "gitea", domain, owner, repo: repo.replace(/\.git$/, "") },
  };
}

/** Hosts whose git URLs name their kind of forge. */
const KNOWN_GITEA = new Set(["codeberg.org", "gitea.com"]);

/** The updateInfo `src` names: its URLs first, then the git URL or owner/repo a fetcher keeps. */
export function inferUpdateInfo(src: SourceFacts | null): Inferred {
  if (src === null) {
    return {
      kind: "none",
      reason: `no passthru.updateInfo and no src to infer it from; ${ADD_LINE_HINT}`,
    };
  }
  for (const url of src.urls) {
    const found = inferFromUrl(url);
    if (found !== undefined) return found;
  }
  // fetchFromGitHub/fetchFromGitea (nixpkgs ≥ 25.05) keep githubBase, owner and repo.
  if (src.owner && src.repo && NAME.test(src.owner)) {
    const base = src.githubBase ?? "github.com";
    return base === "github.com"
      ? { kind: "inferred", info: { source: "github", owner: src.owner, repo: src.repo } }
      : gitea(base, src.owner, src.repo);
  }
  const git = parse(src.gitRepoUrl ?? "");
  if (git !== undefined && git.parts.length >= 2) {
    const repo = git.parts.at(-1)!;
    const owner = git.parts.slice(0, -1).join("/");
    if (git.host === "github.com") {
      return {
        kind: "inferred",
        info: { source: "github", owner, repo: repo.replace(/\.git$/, "") },
      };
    }
    if (git.host === "gitlab.com") return gitlab(git.host, owner, repo);
    if (KNOWN_GITEA.has(git.host)) return gitea(git.host, owner, repo);
  }
  const shown = src.urls[0] ? `the source URL ${src.urls[0]}` : "the source";
  return {
    kind: "none",
    reason: `no passthru.updateInfo, and ${shown} names no known upstream; ${ADD_LINE_HINT}`,
  };
}
