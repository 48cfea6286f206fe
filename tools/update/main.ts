// New upstream versions and every hash for pkgs/, or flake inputs moved with a per-host view of
// what changes. `deno task update --help`.
// No commander and no dax (through lib/cli.ts or lib/runner.ts): together they would double
// the start-up, which the one-package update is measured by. node:util's parseArgs is built
// into Deno; commands run through createProcessRunner().
import { parseArgs } from "node:util";
import { UsageError } from "../lib/errors.ts";
import { positiveInt } from "../lib/cli_values.ts";
import { runMain } from "../lib/main.ts";
import { createProcessRunner } from "../lib/process_runner.ts";
import { findRepoRoot } from "../lib/repo.ts";
import {
  DEFAULT_BUILD_TIMEOUT_MS,
  DEFAULT_EVAL_TIMEOUT_MS,
  parseVersionRequest,
  runUpdate,
} from "./execute.ts";
import { inputsText, updateInputs } from "./inputs.ts";
import { currentSystem, PACKAGE_NAME } from "./facts.ts";
import { exitCodeOf, reportJson, reportTable } from "./report.ts";
import { sourceEnvFrom } from "./sources.ts";

/** Packages updated at once unless --parallel says otherwise. */
export const DEFAULT_PARALLEL = 4;

const HELP = `Usage: deno task update [options] [package...]
       deno task update --inputs [options] [input...]

Moves pkgs/<name>/package.nix to new upstream versions with every hash (all packages when
none is named), or with --inputs moves flake inputs and shows per host what changes.

Options:
  --check               list what is outdated and change nothing (CI, cron)
  --fail-if-outdated    with --check: exit 1 when a package is outdated or unknown
  --prerelease          also consider pre-releases
  --version <v>         the version for this run: a version (one package; a downgrade too),
                        skip (same version, every hash recomputed, no upstream asked) or
                        branch[=<name>] (the newest commit of the default branch or of
                        <name>; GitHub, Gitea)
  --test                after the build, build the package's passthru.tests
  --no-build            skip building the updated packages (with --inputs: the hosts)
  --commit              commit each updated package (with --inputs: the lock) on its own
  -p, --parallel <n>    packages (or hosts) worked on at once (default: ${DEFAULT_PARALLEL})
  --timeout <seconds>   bound on each upstream request (default: 30) and, when given, on
                        each nix evaluation (default: 600)
  --build-timeout <s>   bound on each nix build and fetch (default: 1800)
  --system <system>     the system whose packages to update (default: this machine's)
  --inputs              move flake inputs instead of packages
  --hosts <a,b>         with --inputs: the hosts to build before and after (default: all)
  --vm-test             with --inputs: after the rebuild, run the changed hosts' VM tests
                        (checks.<system>.vm-<host>; needs KVM) before the lock is written
  --repo <dir>          repository root (default: found from the current folder)
  -n, --dry-run         work everything out, print what would change, change nothing
  -v, --verbose         show each command run and the tail of its output
  --json                print a machine-readable result on stdout
  -h, --help            show this help

Environment: GITHUB_TOKEN, GITHUB_API_URL, GITHUB_SERVER_URL, NPM_REGISTRY_URL, GITLAB_API_URL,
GITEA_API_URL, PYPI_URL, CRATES_IO_API_URL.
`;

const OPTIONS = {
  check: { type: "boolean" },
  "fail-if-outdated": { type: "boolean" },
  prerelease: { type: "boolean" },
  version: { type: "string" },
  test: { type: "boolean" },
  "no-build": { type: "boolean" },
  commit: { type: "boolean" },
  parallel: { type: "string", short: "p" },
  timeout: { type: "string" },
  "build-timeout": { type: "string" },
  system: { type: "string" },
  inputs: { type: "boolean" },
  hosts: { type: "string" },
  "vm-test": { type: "boolean" },
  repo: { type: "string" },
  "dry-run": { type: "boolean", short: "n" },
  verbose: { type: "boolean", short: "v" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

function parse(args: string[]) {
  try {
    return parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}; see --help`);
  }
}

function printResult(json: boolean | undefined, value: unknown, human: string): void {
  console.log(json ? JSON.stringify(value, null, 2) : human);
}

/** Entry point; returns the exit code. */
export function main(args: string[]): Promise<number> {
  return runMain(async () => {
    const { values: opts, positionals } = parse(args);
    if (opts.help) {
      console.log(HELP.trimEnd());
      return 0;
    }
    const runner = createProcessRunner({
      dryRun: opts["dry-run"] ?? false,
      verbose: opts.verbose ?? false,
    });
    const parallel = positiveInt(opts.parallel ?? String(DEFAULT_PARALLEL), "--parallel");
    const timeoutMs = positiveInt(opts.timeout ?? "30", "--timeout") * 1000;
    const evalTimeoutMs = opts.timeout === undefined ? DEFAULT_EVAL_TIMEOUT_MS : timeoutMs;
    const nixTimeoutMs = opts["build-timeout"] === undefined
      ? DEFAULT_BUILD_TIMEOUT_MS
      : positiveInt(opts["build-timeout"], "--build-timeout") * 1000;
    if (opts["fail-if-outdated"] && !opts.check) {
      throw new UsageError("Cannot use --fail-if-outdated without --check");
    }
    if (opts.check && opts.commit) throw new UsageError("Cannot use --commit with --check");
    const root = await findRepoRoot(Deno.cwd(), opts.repo);
    const build = !opts["no-build"];
    if (opts.inputs) {
      for (const flag of ["check", "prerelease", "system", "version", "test"] as const) {
        if (opts[flag] !== undefined) throw new UsageError(`Cannot use --${flag} with --inputs`);
      }
      if (opts["vm-test"] && !build) {
        throw new UsageError(
          "Cannot use --vm-test with --no-build: the VM tests run after the rebuild",
        );
      }
      const hosts = opts.hosts?.split(",").map((h) => h.trim()).filter(Boolean);
      const report = await updateInputs(runner, {
        root,
        inputs: [...new Set(positionals)],
        ...(hosts ? { hosts } : {}),
        build,
        commit: opts.commit ?? false,
        parallel,
        nixTimeoutMs,
        evalTimeoutMs,
        vmTest: opts["vm-test"] ?? false,
      });
      printResult(opts.json, report, inputsText(report));
      return report.lock === "restored" ? 1 : 0;
    }
    if (opts.hosts !== undefined) throw new UsageError("Cannot use --hosts without --inputs");
    if (opts["vm-test"]) throw new UsageError("Cannot use --vm-test without --inputs");
    for (const name of positionals) {
      if (!PACKAGE_NAME.test(name)) {
        throw new UsageError(`Invalid package name "${name}": expected a folder name under pkgs/`);
      }
    }
    const version = opts.version === undefined ? undefined : parseVersionRequest(opts.version);
    if (opts.version !== undefined && version === undefined) {
      throw new UsageError(
        `Invalid --version "${opts.version}": expected a version (1.2.3), skip, branch or branch=<name>`,
      );
    }
    if (version?.kind === "set" && new Set(positionals).size !== 1) {
      throw new UsageError(
        `Cannot use --version ${opts.version} without exactly one package: name the package to move to it`,
      );
    }
    if (version?.kind === "skip" && opts.check) {
      throw new UsageError("Cannot use --version skip with --check: it only recomputes hashes");
    }
    if (opts.test && (opts.check || !build)) {
      throw new UsageError(
        `Cannot use --test with ${
          opts.check ? "--check" : "--no-build"
        }: the tests build the updated package`,
      );
    }
    const system = opts.system ?? currentSystem();
    if (!/^[a-z0-9_]+-[a-z]+$/.test(system)) {
      throw new UsageError(`Invalid --system "${system}": expected e.g. x86_64-linux`);
    }
    let env;
    try {
      env = sourceEnvFrom((name) => Deno.env.get(name), timeoutMs);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const reports = await runUpdate(runner, {
      root,
      system,
      names: positionals.length > 0 ? [...new Set(positionals)] : null,
      check: opts.check ?? false,
      prerelease: opts.prerelease ?? false,
      ...(version ? { version } : {}),
      test: opts.test ?? false,
      build,
      commit: opts.commit ?? false,
      parallel,
      env,
      nixTimeoutMs,
      evalTimeoutMs,
    });
    printResult(opts.json, reportJson(reports), reportTable(reports));
    return exitCodeOf(reports, opts["fail-if-outdated"] ?? false);
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
