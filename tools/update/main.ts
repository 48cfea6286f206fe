// New upstream versions and every hash for pkgs/, or flake inputs moved with a per-host view of
// what changes. `deno task update --help`.
// No dax (through lib/cli.ts or lib/runner.ts): it would double the start-up, which the
// one-package update is measured by; commands run through createProcessRunner() instead.
import { Command } from "@commander-js/extra-typings";
import { UsageError } from "../lib/errors.ts";
import { HelpShown, runMain } from "../lib/main.ts";
import { createProcessRunner } from "../lib/process_runner.ts";
import { findRepoRoot } from "../lib/repo.ts";
import { runUpdate } from "./execute.ts";
import { inputsText, updateInputs } from "./inputs.ts";
import { currentSystem, PACKAGE_NAME } from "./facts.ts";
import { exitCodeOf, reportJson, reportTable } from "./report.ts";
import { sourceEnvFrom } from "./sources.ts";

/** Packages updated at once unless --parallel says otherwise. */
export const DEFAULT_PARALLEL = 4;

function program() {
  return new Command("update")
    .description(
      "Move pkgs/ to new upstream versions with every hash (or, with --inputs, move flake inputs)",
    )
    .option("--repo <dir>", "repository root (default: found from the current folder)")
    .option("-n, --dry-run", "work everything out, print what would change, change nothing")
    .option("-v, --verbose", "show each command run and the tail of its output")
    .option("--json", "print a machine-readable result on stdout")
    .exitOverride((error) => {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") {
        throw new HelpShown();
      }
      throw new UsageError(error.message.replace(/^error: /, ""));
    })
    .configureOutput({
      // commander prints its own "error: ..." before exitOverride; runMain prints ours instead.
      writeErr: (text) => {
        if (!text.startsWith("error:")) Deno.stderr.writeSync(new TextEncoder().encode(text));
      },
    })
    .argument("[names...]", "packages (default: all), or with --inputs the inputs (default: all)")
    .option("--check", "list what is outdated and change nothing (CI, cron)")
    .option("--fail-if-outdated", "with --check: exit 1 when a package is outdated")
    .option("--prerelease", "also consider pre-releases")
    .option("--no-build", "skip building the updated packages (or, with --inputs, the hosts)")
    .option("--commit", "commit each updated package (or the lock) on its own")
    .option("-p, --parallel <n>", "packages worked on at once", String(DEFAULT_PARALLEL))
    .option("--timeout <seconds>", "bound on each upstream request", "30")
    .option("--system <system>", "the system whose packages to update (default: this machine's)")
    .option("--inputs", "move flake inputs instead of packages")
    .option("--hosts <hosts>", "with --inputs: the hosts to build before and after (a,b)");
}

function printResult(json: boolean | undefined, value: unknown, human: string): void {
  console.log(json ? JSON.stringify(value, null, 2) : human);
}

function positiveInt(value: string, flag: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new UsageError(`Invalid ${flag} "${value}": expected a whole number ≥ 1`);
  }
  return Number(value);
}

/** Entry point; returns the exit code. */
export function main(args: string[]): Promise<number> {
  return runMain(async () => {
    const cli = program();
    cli.parse(args, { from: "user" });
    const opts = cli.opts();
    const runner = createProcessRunner({
      dryRun: opts.dryRun ?? false,
      verbose: opts.verbose ?? false,
    });
    const root = await findRepoRoot(Deno.cwd(), opts.repo);
    const parallel = positiveInt(opts.parallel, "--parallel");
    const timeoutMs = positiveInt(opts.timeout, "--timeout") * 1000;
    if (opts.failIfOutdated && !opts.check) {
      throw new UsageError("Cannot use --fail-if-outdated without --check");
    }
    if (opts.check && opts.commit) throw new UsageError("Cannot use --commit with --check");
    if (opts.inputs) {
      for (const flag of ["check", "prerelease", "system"] as const) {
        if (opts[flag] !== undefined) throw new UsageError(`Cannot use --${flag} with --inputs`);
      }
      const hosts = opts.hosts?.split(",").map((h) => h.trim()).filter(Boolean);
      const report = await updateInputs(runner, {
        root,
        inputs: [...new Set(cli.args)],
        ...(hosts ? { hosts } : {}),
        build: opts.build,
        commit: opts.commit ?? false,
        parallel,
      });
      printResult(opts.json, report, inputsText(report));
      return report.lock === "restored" ? 1 : 0;
    }
    if (opts.hosts !== undefined) throw new UsageError("Cannot use --hosts without --inputs");
    for (const name of cli.args) {
      if (!PACKAGE_NAME.test(name)) {
        throw new UsageError(`Invalid package name "${name}": expected a folder name under pkgs/`);
      }
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
      names: cli.args.length > 0 ? [...new Set(cli.args)] : null,
      check: opts.check ?? false,
      prerelease: opts.prerelease ?? false,
      build: opts.build,
      commit: opts.commit ?? false,
      parallel,
      env,
    });
    printResult(opts.json, reportJson(reports), reportTable(reports));
    return exitCodeOf(reports, opts.failIfOutdated ?? false);
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
