// Carries out package updates: upstream lookups, then per package a rewrite worked out in a work
// copy (prefetch, dependency hashes from a fake-hash build, re-evaluation, build), and only then
// the repository's file replaced whole and, with --commit, committed on its own.
import { unifiedDiff } from "../lib/diff.ts";
import { CommandError, UsageError } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/fs.ts";
import { mapPool } from "../lib/pool.ts";
import type { Runner } from "../lib/runner.ts";
import { type PackageFacts, readPackageFacts } from "./facts.ts";
import { UpstreamError } from "./http.ts";
import { nixFailure } from "./nix_errors.ts";
import { type Choice, chooseUpdate, isRefName } from "./policy.ts";
import {
  literalOffsets,
  replaceLiterals,
  type Replacement,
  requireOnce,
  RewriteRefused,
} from "./rewrite.ts";
import {
  type Candidate,
  type Current,
  type Offer,
  type Source,
  type SourceEnv,
  SOURCES,
} from "./sources.ts";
import { tagReading } from "./tags.ts";
import { inferUpdateInfo, isGitFetched } from "./infer.ts";
import { createWorkspace, removeStaleWorkspaces, takeLock, type Workspace } from "./workspace.ts";

/** A step of one package's update, as named in progress lines and failures. */
export type Step =
  | "read"
  | "lookup"
  | "plan"
  | "evaluate"
  | "prefetch"
  | "dependencies"
  | "confirm"
  | "build"
  | "test"
  | "write"
  | "commit";

/** What happened to one package. */
export type PackageResult =
  | { kind: "up-to-date"; version: string }
  /** The upstream's newest version is older than ours: never a downgrade. */
  | { kind: "ahead"; version: string; newest: string }
  | { kind: "outdated"; from: string; to: string; changelogUrl?: string }
  | {
    kind: "updated";
    from: string;
    to: string;
    changelogUrl?: string;
    commit?: string;
    /** The passthru.tests built after the package (--test). */
    tests?: string[];
  }
  | { kind: "would-update"; from: string; to: string; changelogUrl?: string }
  | { kind: "skipped"; reason: string }
  /** The upstream offers no version the tool can read: never called up to date. */
  | { kind: "unknown"; version: string; reason: string }
  | { kind: "failed"; step: Step; message: string; from?: string; to?: string };

/** One row of the report. */
export interface PackageReport {
  name: string;
  file: string;
  result: PackageResult;
}

/** Options for {@linkcode runUpdate}. */
export interface UpdateOptions {
  root: string;
  system: string;
  /** Packages asked for; null for all. */
  names: readonly string[] | null;
  /** List what is outdated; change nothing. */
  check: boolean;
  prerelease: boolean;
  build: boolean;
  commit: boolean;
  parallel: number;
  env: SourceEnv;
  // deno-lint-ignore no-explicit-any
  sources?: Record<string, Source<any>>;
  /**
   * The version for this run (--version): a given one, `skip` (the same version, every hash
   * recomputed, no upstream asked) or `branch` (the newest commit of the branch); default the
   * newest release the policy picks.
   */
  version?: VersionRequest;
  /** Build each package's passthru.tests after the package (--test). */
  test?: boolean;
  /** Milliseconds each nix build may take (default 30 minutes). */
  nixTimeoutMs?: number;
  /** Milliseconds each nix evaluation may take (default 10 minutes). */
  evalTimeoutMs?: number;
}

/** What --version asks for. */
export type VersionRequest =
  | { kind: "skip" }
  /** The branch to follow; the package's `updateInfo.branch` or default branch when absent. */
  | { kind: "branch"; branch?: string }
  | { kind: "set"; version: string };

/** Reads --version's value: `skip`, `branch`, `branch=<name>` or a version. */
export function parseVersionRequest(value: string): VersionRequest | undefined {
  if (value === "skip") return { kind: "skip" };
  if (value === "branch") return { kind: "branch" };
  const branch = /^branch=([A-Za-z0-9_./-]+)$/.exec(value)?.[1];
  if (branch !== undefined) return branch.includes("..") ? undefined : { kind: "branch", branch };
  return /^[0-9A-Za-z][0-9A-Za-z.+_-]*$/.test(value) ? { kind: "set", version: value } : undefined;
}

/** Bound on one nix evaluation unless --timeout says otherwise. */
export const DEFAULT_EVAL_TIMEOUT_MS = 10 * 60_000;
/** Bound on one nix build unless --build-timeout says otherwise. */
export const DEFAULT_BUILD_TIMEOUT_MS = 30 * 60_000;

/** The file a package lives in: the layout `pkgs/<name>/package.nix`. */
export function packageFile(name: string): string {
  return `pkgs/${name}/package.nix`;
}

class StepError extends Error {
  constructor(readonly step: Step, message: string) {
    super(message);
  }
}

/** Runs the lookups and updates; never throws for one package's failure. */
export async function runUpdate(runner: Runner, options: UpdateOptions): Promise<PackageReport[]> {
  const sources = options.sources ?? SOURCES;
  using _lock = options.check ? undefined : await takeLock(options.root, "update packages");
  if (!options.check) await removeStaleWorkspaces(options.root);
  let workspace: Promise<Workspace> | undefined;
  const getWorkspace = () => workspace ??= createWorkspace(runner, options.root);
  // The copy is made while nix evaluates (it is needed as soon as one package is outdated).
  if (!options.check) getWorkspace().catch(() => {});
  try {
    runner.log(`reading package facts (${options.names?.join(", ") ?? "all packages"})`);
    const facts = await readAllFacts(runner, options);
    for (const name of options.names ?? []) {
      if (facts[name] === undefined) {
        throw new UsageError(
          `Cannot update "${name}": no package ${packageFile(name)} in the flake's packages`,
        );
      }
    }
    const names = Object.keys(facts).sort();
    let commits: Promise<unknown> = Promise.resolve();
    const serialCommit = <T>(fn: () => Promise<T>): Promise<T> => {
      const next = commits.then(fn);
      commits = next.catch(() => {});
      return next;
    };
    const results = await mapPool(names, options.parallel, async (name) => {
      const fact = facts[name]!;
      const result: PackageResult = "evalError" in fact
        ? { kind: "failed", step: "read", message: fact.evalError }
        : await updateOne(runner, name, fact, {
          ...options,
          sources,
          getWorkspace,
          serialCommit,
        });
      runner.log(`${name}: ${describeResult(result)}`);
      return { name, file: packageFile(name), result };
    });
    return results.map((r, i): PackageReport =>
      r.ok ? r.value : {
        name: names[i]!,
        file: packageFile(names[i]!),
        result: {
          kind: "failed",
          step: "plan",
          message: nixFailure((r as { error?: unknown }).error),
        },
      }
    );
  } finally {
    if (workspace !== undefined) {
      await (await workspace.catch(() => undefined))?.[Symbol.asyncDispose]();
    }
  }
}

/** A package whose facts do not evaluate: nix's cause. */
interface EvalFailure {
  evalError: string;
}

/**
 * The facts of every package asked for, in one evaluation; when that fails, each package on
 * its own, so one package that does not evaluate fails alone, with nix's cause.
 */
async function readAllFacts(
  runner: Runner,
  options: UpdateOptions,
): Promise<Record<string, PackageFacts | EvalFailure>> {
  const timeoutMs = options.evalTimeoutMs ?? DEFAULT_EVAL_TIMEOUT_MS;
  try {
    return await readPackageFacts(runner, options.root, options.system, options.names, timeoutMs);
  } catch (error) {
    let names = options.names;
    if (names === null) {
      try {
        names = await listPackages(runner, options.root, options.system, timeoutMs);
      } catch {
        throw error;
      }
    }
    if (names.length <= 1) throw error;
    const facts: Record<string, PackageFacts | EvalFailure> = {};
    const one = await mapPool(
      names,
      options.parallel,
      (name) => readPackageFacts(runner, options.root, options.system, [name], timeoutMs),
    );
    one.forEach((r, i) => {
      const name = names[i]!;
      if (r.ok) Object.assign(facts, r.value);
      else {
        const message = ((r as { error?: unknown }).error as Error).message;
        facts[name] = {
          evalError: message.replace(
            /^Cannot evaluate the package facts of [^:]+: /,
            "does not evaluate: ",
          ),
        };
      }
    });
    return facts;
  }
}

/** A short phrase for a result, for progress lines and the table. */
export function describeResult(result: PackageResult): string {
  switch (result.kind) {
    case "up-to-date":
      return "up to date";
    case "ahead":
      return `newer than upstream's ${result.newest}: left alone`;
    case "outdated":
      return `outdated: ${result.to} available`;
    case "updated": {
      const what = result.from === result.to ? "hashes recomputed" : "updated";
      const tests = result.tests === undefined
        ? ""
        : result.tests.length === 0
        ? ", no passthru.tests"
        : `, passthru.tests passed (${result.tests.join(", ")})`;
      return result.commit
        ? `${what}${tests}, committed ${result.commit.slice(0, 12)}`
        : `${what}${tests}`;
    }
    case "would-update":
      return result.from === result.to
        ? "would recompute hashes (dry run)"
        : "would update (dry run)";
    case "skipped":
      return `skipped: ${result.reason}`;
    case "unknown":
      return `unknown: ${result.reason}`;
    case "failed":
      return `failed (${result.step}): ${result.message}`;
  }
}

interface Context extends UpdateOptions {
  // deno-lint-ignore no-explicit-any
  sources: Record<string, Source<any>>;
  getWorkspace: () => Promise<Workspace>;
  serialCommit: <T>(fn: () => Promise<T>) => Promise<T>;
}

async function updateOne(
  runner: Runner,
  name: string,
  facts: PackageFacts,
  ctx: Context,
): Promise<PackageResult> {
  if (ctx.version?.kind === "skip") return await skipVersion(runner, name, facts, ctx);
  let info = facts.updateInfo;
  let inferredTag: string | undefined;
  if (info === null || info === undefined) {
    const inferred = inferUpdateInfo(facts.src);
    if (inferred.kind === "none") return { kind: "skipped", reason: inferred.reason };
    runner.log(
      `${name}: no passthru.updateInfo; inferred ${JSON.stringify(inferred.info)} from src`,
    );
    info = inferred.info;
    inferredTag = inferred.currentTag;
  }
  if (ctx.version?.kind === "branch" && typeof info === "object") {
    const branch = ctx.version.branch;
    info = { ...info, track: "branch", ...(branch !== undefined ? { branch } : {}) };
  }
  const kind = typeof info === "object" && info !== null && "source" in info
    ? String(info.source)
    : "";
  const source = ctx.sources[kind];
  if (source === undefined) {
    return {
      kind: "failed",
      step: "read",
      message: `unknown updateInfo.source "${kind}" (known: ${
        Object.keys(ctx.sources).join(", ")
      })`,
    };
  }
  const parsed = source.schema.safeParse(info);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    if (ctx.version?.kind === "branch" && issue?.path.join(".") === "track") {
      return {
        kind: "failed",
        step: "read",
        message: `--version branch: ${kind} has no branches to follow (GitHub and Gitea do)`,
      };
    }
    return {
      kind: "failed",
      step: "read",
      message: `invalid updateInfo: ${issue?.path.join(".") || "value"}: ${issue?.message ?? ""}`,
    };
  }
  if (facts.version === null) {
    return { kind: "failed", step: "read", message: "the package has no version" };
  }
  const version = facts.version;
  const currentRev = facts.src?.tag ?? facts.src?.rev ?? inferredTag ?? null;
  const current: Current = { version, ...(currentRev !== null ? { rev: currentRev } : {}) };
  const versionRegex = (parsed.data as { versionRegex?: string }).versionRegex;
  let reading;
  try {
    reading = tagReading(version, currentRev ?? undefined, versionRegex);
  } catch (error) {
    return { kind: "failed", step: "read", message: (error as Error).message };
  }

  runner.log(`${name}: asking ${kind} upstream`);
  let offers: Offer[];
  try {
    offers = await source.candidates(parsed.data, ctx.env);
  } catch (error) {
    if (error instanceof UpstreamError) {
      return { kind: "failed", step: "lookup", message: error.message };
    }
    throw error;
  }
  const choice = ctx.version?.kind === "set"
    ? chooseGiven(ctx.version.version, current, offers, reading, source.describe(parsed.data))
    : chooseUpdate(current, offers, {
      track: source.track(parsed.data),
      prerelease: ctx.prerelease,
      reading,
      upstream: source.describe(parsed.data),
    });
  if (choice.kind === "missing") return { kind: "failed", step: "lookup", message: choice.reason };
  if (choice.kind === "unknown") return { kind: "unknown", version, reason: choice.reason };
  if (choice.kind === "up-to-date") return { kind: "up-to-date", version };
  if (choice.kind === "ahead") return { kind: "ahead", version, newest: choice.newest };
  const target = choice.candidate;
  const changelogUrl = source.changelogUrl(parsed.data, current, target, ctx.env);
  const moving = { from: version, to: target.version, ...(changelogUrl ? { changelogUrl } : {}) };
  if (ctx.check) return { kind: "outdated", ...moving };
  try {
    return await applyUpdate(runner, name, facts, target, moving, ctx);
  } catch (error) {
    if (error instanceof StepError) {
      return { kind: "failed", step: error.step, message: error.message, ...moving };
    }
    if (error instanceof RewriteRefused) {
      return { kind: "failed", step: "plan", message: error.message, ...moving };
    }
    throw error;
  }
}

/** --version <v>: the offer that names `wanted` (a downgrade too: it was asked for). */
function chooseGiven(
  wanted: string,
  current: Current,
  offers: readonly Offer[],
  reading: { read: (tag: string) => string | undefined; how: string },
  upstream: string,
): Choice | { kind: "missing"; reason: string } {
  if (wanted === current.version) return { kind: "up-to-date" };
  const offer = offers.find((o) =>
    isRefName(o.rev) && (o.version ?? reading.read(o.rev)) === wanted
  );
  if (offer === undefined) {
    return {
      kind: "missing",
      reason: `${upstream} offers no version ${wanted} (tags read by ${reading.how})`,
    };
  }
  return { kind: "newer", candidate: { ...offer, version: wanted } };
}

/** --version skip: the same version and rev, every hash recomputed; no upstream is asked. */
async function skipVersion(
  runner: Runner,
  name: string,
  facts: PackageFacts,
  ctx: Context,
): Promise<PackageResult> {
  if (facts.version === null) {
    return { kind: "failed", step: "read", message: "the package has no version" };
  }
  const version = facts.version;
  const rev = facts.src?.tag ?? facts.src?.rev ?? "";
  const moving = { from: version, to: version };
  try {
    return await applyUpdate(
      runner,
      name,
      facts,
      { version, rev, prerelease: false },
      moving,
      ctx,
    );
  } catch (error) {
    if (error instanceof StepError) {
      return { kind: "failed", step: error.step, message: error.message, ...moving };
    }
    if (error instanceof RewriteRefused) {
      return { kind: "failed", step: "plan", message: error.message, ...moving };
    }
    throw error;
  }
}

/** Fake hashes: random, so no store path can already exist for them (nix would skip the build). */
function fakeHash(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `sha256-${btoa(String.fromCharCode(...bytes))}`;
}

/** `specified → got` pairs from nix's hash-mismatch errors. */
export function hashMismatches(stderr: string): Map<string, string> {
  const pairs = new Map<string, string>();
  for (const m of stderr.matchAll(/specified:\s*(\S+)\s*\n\s*got:\s*(\S+)/g)) {
    pairs.set(m[1]!, m[2]!);
  }
  return pairs;
}

async function step<T>(name: Step, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof StepError || error instanceof RewriteRefused) throw error;
    throw new StepError(name, nixFailure(error));
  }
}

/** `refs/tags/v1.1.0` when the old rev spelled the tag as a ref, else the tag itself. */
export function newRevValue(oldRev: string | null, tag: string): string {
  return oldRev?.startsWith("refs/tags/") && !tag.startsWith("refs/") ? `refs/tags/${tag}` : tag;
}

/** What the src's outputHashMode says nix hashes, for progress lines. */
const HASH_KIND: Record<string, string> = {
  flat: "flat file hash",
  recursive: "unpacked tree's hash",
};

/**
 * SRI forms of nix's hashes: derivations print SRI already, builtins fetchers
 * `sha256:<base32>`, which one `nix hash to-sri` converts.
 */
async function toSri(runner: Runner, hashes: readonly string[]): Promise<string[]> {
  const other = [...new Set(hashes.filter((h) => !/^sha256-/.test(h)))];
  if (other.length === 0) return [...hashes];
  const printed = await runner.text({
    argv: ["nix", "hash", "to-sri", "--type", "sha256", ...other],
    timeoutMs: 60_000,
  });
  const converted = printed.split("\n").map((line) => line.trim()).filter(Boolean);
  return hashes.map((h) => /^sha256-/.test(h) ? h : converted[other.indexOf(h)]!);
}

async function applyUpdate(
  runner: Runner,
  name: string,
  facts: PackageFacts,
  target: Candidate,
  moving: { from: string; to: string; changelogUrl?: string },
  ctx: Context,
): Promise<PackageResult> {
  const file = packageFile(name);
  const realPath = `${ctx.root}/${file}`;
  const original = await step("read", () => Deno.readTextFile(realPath));
  const src = facts.src;
  if (src === null || src.hash === null) {
    throw new StepError("read", "the package has no src with an outputHash to update");
  }
  // Everything is checked before anything is written: each old value appears exactly once.
  const oldRev = src.tag ?? src.rev;
  const newRev = newRevValue(oldRev, target.rev);
  const stage1: Replacement[] = [];
  if (moving.from !== moving.to) stage1.push({ what: "version", from: moving.from, to: moving.to });
  let revDerived = false;
  if (oldRev !== null && oldRev !== newRev) {
    const what = src.tag !== null ? "tag" : "rev";
    const followsVersion = oldRev === moving.from ||
      (literalOffsets(original, oldRev).length === 0 && oldRev.includes(moving.from));
    if (followsVersion) {
      // e.g. rev = "v${version}" or rev = version: follows the version; confirmed below
      revDerived = true;
    } else {
      stage1.push({ what, from: oldRev, to: newRev });
    }
  }
  requireOnce(original, src.hash, "source hash", file);
  for (const hash of facts.dependencyHashes) requireOnce(original, hash, "dependency hash", file);
  const staged = replaceLiterals(original, stage1, file);
  if (ctx.commit) {
    const status = await step(
      "read",
      () =>
        runner.text({
          argv: ["git", "-C", ctx.root, "status", "--porcelain", "--", file],
          timeoutMs: 60_000,
        }),
    );
    if (status.trim() !== "") {
      throw new StepError("plan", `${file} has uncommitted changes; commit or stash them first`);
    }
  }
  const log = (message: string) =>
    runner.log(`${name}: ${moving.from} -> ${moving.to}: ${message}`);
  const timeoutMs = ctx.nixTimeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS;
  const evalTimeoutMs = ctx.evalTimeoutMs ?? DEFAULT_EVAL_TIMEOUT_MS;

  const ws = await step("evaluate", ctx.getWorkspace);
  const workFile = (text: string) => step("evaluate", () => ws.write(file, text));
  await workFile(staged);
  log("evaluating the new source");
  const moved = await step("evaluate", () => evalOne(runner, ws, name, ctx.system, evalTimeoutMs));
  if (revDerived && (moved.src?.tag ?? moved.src?.rev) !== newRev) {
    throw new StepError(
      "plan",
      `the old rev "${oldRev}" is not a string literal in ${file} and does not follow the version to "${newRev}"`,
    );
  }

  // Every hash is learnt from nix itself: the source and dependency hashes are set to random
  // fake hashes and the package is built; each fixed-output fetch that nix runs (fetchurl's
  // flat file hash, fetchzip's unpacked tree, a vendor or cargo derivation) reports what it got.
  // So the hash kind is always the one of the fetcher the package uses.
  const olds = [src.hash, ...facts.dependencyHashes];
  const fakes = olds.map(() => fakeHash());
  let text = replaceLiterals(
    staged,
    olds.map((from, i) => ({
      what: i === 0 ? "source hash" : "dependency hash",
      from,
      to: fakes[i]!,
    })),
    file,
  );
  const learnt = new Map<string, string>();
  while (learnt.size < fakes.length) {
    const what = learnt.has(fakes[0]!) ? "dependencies" : "prefetch";
    await workFile(text);
    log(
      what === "prefetch"
        ? `${isGitFetched(src) ? "cloning" : "fetching"} ${
          moved.src?.urls[0] ?? "the new source"
        } with a fake hash to learn its ${
          isGitFetched(src) ? "checkout's hash" : HASH_KIND[moved.src?.hashMode ?? ""] ?? "hash"
        }`
        : "building with fake dependency hashes to learn the real ones",
    );
    const result = await step(what, () =>
      runner.run({
        argv: [
          "nix",
          "build",
          "--no-link",
          "--keep-going",
          `${ws.flake}#packages.${ctx.system}.${name}`,
        ],
        okCodes: [1, 100, 101, 102, 104],
        timeoutMs,
      }));
    const pairs = [...hashMismatches(result.stderr)];
    const both = await step(what, () => toSri(runner, pairs.flat()));
    const specified = both.filter((_, i) => i % 2 === 0);
    const got = both.filter((_, i) => i % 2 === 1);
    let progress = false;
    specified.forEach((s, i) => {
      const at = fakes.indexOf(s); // fake hashes are canonical SRI
      if (at >= 0 && !learnt.has(fakes[at]!)) {
        learnt.set(fakes[at]!, got[i]!);
        progress = true;
      }
    });
    if (!progress) {
      const cause = result.code === 0
        ? "the build succeeded without fetching it (does the package use its src?)"
        : nixFailure(new CommandError("nix build", result.code, result.stderr));
      throw new StepError(
        what,
        what === "prefetch"
          ? `nix did not fetch the new source: ${cause}`
          : `nix did not build the dependencies with fake hashes: ${cause}`,
      );
    }
    text = replaceLiterals(
      text,
      fakes.filter((f) => learnt.has(f) && text.includes(`"${f}"`)).map((f) => ({
        what: f === fakes[0] ? "source hash" : "dependency hash",
        from: f,
        to: learnt.get(f)!,
      })),
      file,
    );
  }
  const srcHash = learnt.get(fakes[0]!)!;
  const dependencyHashes = fakes.slice(1).map((f) => learnt.get(f)!);
  await workFile(text);

  log("re-evaluating");
  const confirmed = await step(
    "confirm",
    () => evalOne(runner, ws, name, ctx.system, evalTimeoutMs),
  );
  const problems: string[] = [];
  if (confirmed.version !== moving.to) {
    problems.push(`version "${confirmed.version}", expected "${moving.to}"`);
  }
  if (confirmed.src?.hash !== srcHash) {
    problems.push(`source hash "${confirmed.src?.hash}", expected "${srcHash}"`);
  }
  if (oldRev !== null && (confirmed.src?.tag ?? confirmed.src?.rev) !== newRev) {
    problems.push(`rev "${confirmed.src?.tag ?? confirmed.src?.rev}", expected "${newRev}"`);
  }
  if (JSON.stringify(confirmed.dependencyHashes) !== JSON.stringify(dependencyHashes)) {
    problems.push(
      `dependency hashes ${JSON.stringify(confirmed.dependencyHashes)}, expected ${
        JSON.stringify(dependencyHashes)
      }`,
    );
  }
  if (problems.length > 0) {
    throw new StepError("confirm", `re-evaluation gives ${problems.join("; ")}`);
  }

  if (ctx.build) {
    log("building");
    await step("build", () =>
      runner.run({
        argv: ["nix", "build", "-L", "--no-link", `${ws.flake}#packages.${ctx.system}.${name}`],
        timeoutMs,
      }));
  }

  let tests: string[] | undefined;
  if (ctx.test) {
    tests = await step(
      "test",
      () => runTests(runner, ws, name, ctx.system, timeoutMs, evalTimeoutMs),
    );
  }

  if (runner.dryRun) {
    runner.log(`would write ${file}:\n${unifiedDiff(file, original, text).trimEnd()}`);
  } else {
    // The repository's file may have changed while we worked: never overwrite someone's edit.
    const now = await step("write", () => Deno.readTextFile(realPath));
    if (now !== original) throw new StepError("write", `${file} changed while updating; run again`);
    await step("write", () => writeFileAtomic(realPath, text));
  }
  const ran = tests === undefined ? {} : { tests };
  if (!ctx.commit) {
    return runner.dryRun
      ? { kind: "would-update", ...moving }
      : { kind: "updated", ...moving, ...ran };
  }

  const commit = await ctx.serialCommit(() =>
    step("commit", async () => {
      const message = [
        moving.from === moving.to
          ? `${name}: ${moving.from}: recompute hashes`
          : `${name}: ${moving.from} -> ${moving.to}`,
        ...(moving.changelogUrl ? [moving.changelogUrl] : []),
      ];
      try {
        await runner.run({
          argv: [
            "git",
            "-C",
            ctx.root,
            "commit",
            "-q",
            ...message.flatMap((m) => ["-m", m]),
            "--",
            file,
          ],
          mutates: true,
          timeoutMs: 60_000,
        });
      } catch (error) {
        if (!runner.dryRun) await writeFileAtomic(realPath, original);
        throw error;
      }
      if (runner.dryRun) return undefined;
      return await runner.text({
        argv: ["git", "-C", ctx.root, "rev-parse", "HEAD"],
        timeoutMs: 60_000,
      });
    })
  );
  return runner.dryRun
    ? { kind: "would-update", ...moving }
    : { kind: "updated", ...moving, ...ran, ...(commit ? { commit } : {}) };
}

/** Builds the package's passthru.tests (none: an empty list); a failing test fails the step. */
async function runTests(
  runner: Runner,
  ws: Workspace,
  name: string,
  system: string,
  timeoutMs: number,
  evalTimeoutMs: number,
): Promise<string[]> {
  const attr = `${ws.flake}#packages.${system}.${name}`;
  const names = JSON.parse(
    await runner.text({
      argv: [
        "nix",
        "eval",
        "--json",
        attr,
        "--apply",
        "p: builtins.attrNames (p.passthru.tests or { })",
      ],
      timeoutMs: evalTimeoutMs,
    }),
  ) as string[];
  if (names.length === 0) {
    runner.log(`${name}: no passthru.tests to run`);
    return [];
  }
  runner.log(`${name}: building passthru.tests ${names.join(", ")}`);
  await runner.run({
    argv: [
      "nix",
      "build",
      "-L",
      "--no-link",
      ...names.map((t) => `${attr}.passthru.tests.${JSON.stringify(t)}`),
    ],
    timeoutMs,
  });
  return names;
}

async function listPackages(
  runner: Runner,
  flake: string,
  system: string,
  timeoutMs: number,
): Promise<string[]> {
  const out = await runner.text({
    argv: ["nix", "eval", "--json", `${flake}#packages.${system}`, "--apply", "builtins.attrNames"],
    timeoutMs,
  });
  return JSON.parse(out) as string[];
}

async function evalOne(
  runner: Runner,
  ws: Workspace,
  name: string,
  system: string,
  timeoutMs: number,
): Promise<PackageFacts> {
  const facts = await readPackageFacts(runner, ws.flake, system, [name], timeoutMs);
  const one = facts[name];
  if (one === undefined) throw new Error(`the work copy has no package "${name}"`);
  return one;
}
