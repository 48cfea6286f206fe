// A package's update facts, read by evaluation: one `nix eval --json` for all packages asked for.
import { z } from "zod";
import { CommandError } from "../lib/errors.ts";
import type { Runner } from "../lib/runner.ts";
import { describeZodError } from "../lib/validate.ts";
import { nixCause } from "./nix_errors.ts";

/** Attributes that hold a package's fixed-output dependency derivation in nixpkgs builders. */
export const DEPENDENCY_ATTRS = [
  "goModules",
  "cargoDeps",
  "npmDeps",
  "pnpmDeps",
  "yarnOfflineCache",
  "offlineCache",
  "mixFodDeps",
  "fetchedMavenDeps",
] as const;

const sourceFacts = z.object({
  /** The store name of the source (`source`), so a prefetch lands on the same path. */
  name: z.string().nullable(),
  hash: z.string().nullable(),
  rev: z.string().nullable(),
  tag: z.string().nullable(),
  urls: z.array(z.string()),
  /** `flat` (fetchurl: the file's hash) or `recursive` (fetchzip, fetchFromGitHub: the tree's). */
  hashMode: z.string().nullable(),
  /** What fetchFromGitHub/GitLab/Gitea keep of their arguments, for inferring the upstream. */
  owner: z.string().nullable().default(null),
  repo: z.string().nullable().default(null),
  githubBase: z.string().nullable().default(null),
  gitRepoUrl: z.string().nullable().default(null),
  /** Fetched with git (fetchgit's fetchSubmodules/leaveDotGit/deepClone are set). */
  git: z.boolean().default(false),
});

const packageFacts = z.object({
  version: z.string().nullable(),
  updateInfo: z.unknown(),
  src: sourceFacts.nullable(),
  /** The `outputHash` of each dependency derivation, in DEPENDENCY_ATTRS order. */
  dependencyHashes: z.array(z.string()),
});

/** What evaluation says about one package. */
export type PackageFacts = z.infer<typeof packageFacts>;
/** What evaluation says about a package's source. */
export type SourceFacts = z.infer<typeof sourceFacts>;

/** Package names are folder names under pkgs/; this keeps them safe inside a Nix expression. */
export const PACKAGE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_+.-]*$/;

/** The Nix function applied to `packages.<system>`: facts of `names` (all when null). */
export function factsExpression(names: readonly string[] | null): string {
  const selected = names === null ? "null" : `[ ${names.map((n) => `"${n}"`).join(" ")} ]`;
  const deps = DEPENDENCY_ATTRS.map((a) => `"${a}"`).join(" ");
  return `pkgs: let
  names = ${selected};
  selected = if names == null then pkgs else builtins.intersectAttrs
    (builtins.listToAttrs (map (name: { inherit name; value = null; }) names)) pkgs;
  str = v: if builtins.isString v then v else null;
  fact = p: let
    info = p.passthru.updateInfo or p.updateInfo or null;
    src = p.src or null;
    extra = if builtins.isAttrs info then info.dependencies or [ ] else [ ];
    hasHash = a: p ? \${a} && builtins.isAttrs p.\${a} && p.\${a} ? outputHash;
  in {
    version = str (p.version or null);
    updateInfo = if builtins.isAttrs info then builtins.removeAttrs info [ "dependencies" ] else info;
    src = if !(builtins.isAttrs src) then null else {
      name = str (src.name or null);
      hash = str (src.outputHash or null);
      rev = str (src.rev or null);
      tag = str (src.tag or null);
      urls = if src ? urls then src.urls else if src ? url then [ src.url ] else [ ];
      hashMode = str (src.outputHashMode or null);
      owner = str (src.owner or null);
      repo = str (src.repo or null);
      githubBase = str (src.githubBase or null);
      gitRepoUrl = str (src.gitRepoUrl or src.passthru.gitRepoUrl or null);
      git = src ? fetchSubmodules || src ? leaveDotGit || src ? deepClone;
    };
    dependencyHashes = map (a: p.\${a}.outputHash) (builtins.filter hasHash ([ ${deps} ] ++ extra));
  };
in builtins.mapAttrs (_: fact) selected`;
}

/** The Nix system of this machine, as flakes name it. */
export function currentSystem(): string {
  const arch = Deno.build.arch === "aarch64" ? "aarch64" : "x86_64";
  return `${arch}-${Deno.build.os === "darwin" ? "darwin" : "linux"}`;
}

/** Reads the facts of `names` (all packages when null) from `flake`. */
export async function readPackageFacts(
  runner: Runner,
  flake: string,
  system: string,
  names: readonly string[] | null,
  timeoutMs: number,
): Promise<Record<string, PackageFacts>> {
  let stdout: string;
  try {
    stdout = await runner.text({
      argv: [
        "nix",
        "eval",
        "--json",
        `${flake}#packages.${system}`,
        "--apply",
        factsExpression(names),
      ],
      timeoutMs,
    });
  } catch (error) {
    // The command line holds the whole expression: name the cause, not the command.
    if (error instanceof CommandError) {
      const cause = error.code === 124
        ? `nix eval did not finish within ${
          Math.round(timeoutMs / 1000)
        } s and was stopped (a download during evaluation may be stalled; raise --timeout)`
        : nixCause(error.stderrTail);
      throw new Error(`Cannot evaluate the package facts of packages.${system}: ${cause}`);
    }
    throw error;
  }
  let value: unknown;
  try {
    value = JSON.parse(stdout);
  } catch {
    throw new Error("Cannot read package facts: nix eval printed no JSON");
  }
  const parsed = z.record(z.string(), packageFacts).safeParse(value);
  if (!parsed.success) {
    throw new Error(`Invalid package facts: ${describeZodError(parsed.error)}`);
  }
  return parsed.data;
}
