// Moves flake inputs: the new lock is worked out in a work copy, every host's toplevel built
// before and after, and only when all build is flake.lock replaced (and, with --commit, committed).
import { CommandError, UsageError } from "../lib/errors.ts";
import { readTextIfExists, writeFileAtomic } from "../lib/fs.ts";
import { isHostName } from "../lib/host_name.ts";
import { mapPool } from "../lib/pool.ts";
import type { Runner } from "../lib/runner.ts";
import { z } from "zod";
import { nixEvalJson } from "../lib/nix.ts";
import { describeChanges, type InputChange, inputChanges, lockedInputs } from "./lock.ts";
import { nixFailure } from "./nix_errors.ts";
import { runVmTests, type VmTest, vmTestSummary } from "./vm_tests.ts";
import { createWorkspace, removeStaleWorkspaces, takeLock } from "./workspace.ts";

/** What happened to one host. */
export type HostResult =
  | { kind: "changed"; before: string; after: string; diff: string }
  | { kind: "same"; path: string }
  /** Built after the update only (there was no lock to build from before). */
  | { kind: "built"; after: string }
  | { kind: "failed"; message: string };

/** What happened to flake.lock. */
export type LockResult = "updated" | "created" | "unchanged" | "restored" | "would-update";

/** The report of an inputs update. */
export interface InputsReport {
  lock: LockResult;
  inputs: InputChange[];
  hosts: { name: string; result: HostResult }[];
  /** With --vm-test: the VM tests of the changed hosts (a failed one leaves the lock as it was). */
  vmTests?: VmTest[];
  commit?: string;
}

/** Options for {@linkcode updateInputs}. */
export interface InputsOptions {
  root: string;
  /** Inputs to move; empty for all. */
  inputs: readonly string[];
  /** Hosts to build; undefined for every host. */
  hosts?: readonly string[];
  build: boolean;
  commit: boolean;
  parallel: number;
  nixTimeoutMs?: number;
  /** Bound on each nix evaluation (default 10 minutes). */
  evalTimeoutMs?: number;
  /** After the rebuild, run the changed hosts' VM tests; a failing one keeps the old lock. */
  vmTest?: boolean;
}

type Built = { host: string; path: string } | { host: string; path: undefined; error: unknown };

/** What a flake input may be called in flake.nix: any attribute name nix writes to the lock. */
const INPUT_NAME = /^[A-Za-z0-9_'+.-]+$/;
/**
 * The input path element nix's `--update-input` (2.8) and `nix flake update <input>` (2.19+)
 * take: flakeIdRegex, `[a-zA-Z][a-zA-Z0-9_-]*` (src/libfetchers, parseInputPath in lockfile.cc).
 */
const NIX_INPUT_PATH = /^[a-zA-Z][a-zA-Z0-9_-]*$/;

function toplevel(flake: string, host: string): string {
  return `${flake}#nixosConfigurations."${host}".config.system.build.toplevel`;
}

/**
 * The argv that moves `inputs` (all when empty) of `flake`. Up to nix 2.18, `nix flake update`'s
 * argument is the flake and single inputs move with `nix flake lock --update-input`; from 2.19
 * on, `nix flake update <input>…` names inputs and the flake comes with `--flake`.
 */
export function lockArgv(nixVersion: string, flake: string, inputs: readonly string[]): string[] {
  const [major = 0, minor = 0] = (/(\d+)\.(\d+)/.exec(nixVersion) ?? []).slice(1).map(Number);
  if (major > 2 || (major === 2 && minor >= 19)) {
    return ["nix", "flake", "update", "--flake", flake, ...inputs];
  }
  return inputs.length === 0
    ? ["nix", "flake", "update", flake]
    : ["nix", "flake", "lock", ...inputs.flatMap((name) => ["--update-input", name]), flake];
}

/** Moves the inputs; returns the report (lock "restored" and a failed host when one fails). */
export async function updateInputs(runner: Runner, options: InputsOptions): Promise<InputsReport> {
  for (const name of options.inputs) {
    if (!INPUT_NAME.test(name)) throw new UsageError(`Invalid input name "${name}"`);
  }
  const evalTimeoutMs = options.evalTimeoutMs ?? 10 * 60_000;
  for (const host of options.hosts ?? []) {
    if (!isHostName(host)) throw new UsageError(`Invalid host name "${host}"`);
  }
  const timeoutMs = options.nixTimeoutMs ?? 60 * 60_000;
  using _lock = await takeLock(options.root, "update inputs");
  await removeStaleWorkspaces(options.root);
  const lockPath = `${options.root}/flake.lock`;
  const oldText = await readTextIfExists(lockPath);
  const before = oldText === undefined ? undefined : lockedInputs(oldText);
  for (const name of options.inputs) {
    if (before !== undefined && !before.has(name)) {
      throw new UsageError(
        `Cannot update input "${name}": flake.lock has no such input (inputs: ${
          [...before.keys()].join(", ")
        })`,
      );
    }
    if (!NIX_INPUT_PATH.test(name)) {
      throw new UsageError(
        `Cannot update input "${name}" alone: nix locks it, but nix's input paths (--update-input, nix flake update <input>) take only names like [a-zA-Z][a-zA-Z0-9_-]*; move every input with "deno task update --inputs", or rename the input`,
      );
    }
  }

  let hosts: string[] = [];
  if (options.build) {
    const all = await nixEvalJson(
      runner,
      [
        "--no-write-lock-file",
        `${options.root}#nixosConfigurations`,
        "--apply",
        "builtins.attrNames",
      ],
      z.array(z.string()),
      { what: "host names", timeoutMs: evalTimeoutMs },
    );
    for (const host of options.hosts ?? []) {
      if (!all.includes(host)) {
        throw new UsageError(`Cannot build host "${host}": no nixosConfigurations.${host}`);
      }
    }
    hosts = options.hosts ? [...options.hosts] : all;
  }
  const build = async (flake: string, extra: string[] = []) => {
    const results = await mapPool(hosts, options.parallel, async (host) => {
      runner.log(`${host}: building the toplevel`);
      const out = await runner.text({
        argv: ["nix", "build", "-L", "--no-link", "--json", ...extra, toplevel(flake, host)],
        timeoutMs,
      });
      const path = (JSON.parse(out) as { outputs: { out: string } }[])[0]?.outputs.out;
      if (path === undefined) throw new Error("nix build printed no output path");
      return path;
    });
    return results.map((r, i): Built =>
      r.ok
        ? { host: hosts[i]!, path: r.value }
        : { host: hosts[i]!, path: undefined, error: (r as { error?: unknown }).error }
    );
  };

  // Before: only from an existing lock, never writing one.
  const beforePaths = new Map<string, string>();
  if (options.build && oldText !== undefined) {
    runner.log(`building ${hosts.length} host(s) before the update`);
    for (const built of await build(options.root, ["--no-write-lock-file"])) {
      if (built.path === undefined) {
        throw new Error(
          `Cannot update inputs: host "${built.host}" does not build before the update: ${
            message("error" in built ? built.error : undefined)
          }`,
        );
      }
      beforePaths.set(built.host, built.path);
    }
  }

  await using ws = await createWorkspace(runner, options.root);
  if (oldText !== undefined) await ws.write("flake.lock", oldText);
  runner.log(
    options.inputs.length === 0 ? "moving every input" : `moving ${options.inputs.join(", ")}`,
  );
  const nixVersion = await runner.text({ argv: ["nix", "--version"], timeoutMs: 60_000 });
  await runner.run({ argv: lockArgv(nixVersion, ws.flake, options.inputs), timeoutMs });
  const newText = await readTextIfExists(`${ws.dir}/flake.lock`);
  if (newText === undefined) throw new Error("Cannot update inputs: nix wrote no flake.lock");
  const after = lockedInputs(newText);
  for (const name of options.inputs) {
    if (!after.has(name)) throw new UsageError(`Cannot update input "${name}": no such input`);
  }
  const inputs = inputChanges(before, after);
  for (const line of describeChanges(inputs)) runner.log(line);
  if (newText === oldText) return { lock: "unchanged", inputs, hosts: [] };

  const hostResults: { name: string; result: HostResult }[] = [];
  if (options.build) {
    runner.log(`building ${hosts.length} host(s) after the update`);
    for (const built of await build(ws.flake)) {
      if (built.path === undefined) {
        hostResults.push({
          name: built.host,
          result: { kind: "failed", message: message("error" in built ? built.error : undefined) },
        });
        continue;
      }
      const old = beforePaths.get(built.host);
      if (old === undefined) {
        hostResults.push({ name: built.host, result: { kind: "built", after: built.path } });
      } else if (old === built.path) {
        hostResults.push({ name: built.host, result: { kind: "same", path: old } });
      } else {
        const diff = await runner.text({
          argv: ["nix", "store", "diff-closures", old, built.path],
          timeoutMs,
        });
        hostResults.push({
          name: built.host,
          result: { kind: "changed", before: old, after: built.path, diff: diff.trimEnd() },
        });
      }
    }
  }
  if (hostResults.some((h) => h.result.kind === "failed")) {
    // flake.lock in the repository was never touched: "restored" is the state it is left in.
    return { lock: "restored", inputs, hosts: hostResults };
  }
  let vmTests: VmTest[] | undefined;
  if (options.vmTest) {
    const changed = hostResults.filter((h) =>
      h.result.kind === "changed" || h.result.kind === "built"
    )
      .map((h) => h.name);
    runner.log(`running the VM tests of ${changed.length} changed host(s)`);
    vmTests = await runVmTests(runner, changed, {
      flake: ws.flake,
      timeoutMs,
      evalTimeoutMs,
      describe: message,
    });
    if (vmTests.some((t) => t.result.kind === "failed")) {
      return { lock: "restored", inputs, hosts: hostResults, vmTests };
    }
  }
  const tested = vmTests === undefined ? {} : { vmTests };

  if (options.commit) {
    // The index must hold what HEAD holds, so a failed commit can put it back exactly.
    const staged = await runner.run({
      argv: ["git", "-C", options.root, "diff", "--cached", "--quiet", "--", "flake.lock"],
      okCodes: [1],
      timeoutMs: 60_000,
    });
    if (staged.code !== 0) {
      throw new Error(
        "Cannot commit flake.lock: it has staged changes; commit or unstage them first (flake.lock left as it was)",
      );
    }
  }
  const lock: LockResult = oldText === undefined ? "created" : "updated";
  if (runner.dryRun) {
    runner.log("would write flake.lock");
  } else {
    if ((await readTextIfExists(lockPath)) !== oldText) {
      throw new Error("Cannot update inputs: flake.lock changed while updating; run again");
    }
    await writeFileAtomic(lockPath, newText);
  }
  if (!options.commit) {
    return { lock: runner.dryRun ? "would-update" : lock, inputs, hosts: hostResults, ...tested };
  }
  const subject = options.inputs.length === 0
    ? "flake.lock: update inputs"
    : `flake.lock: update ${options.inputs.join(", ")}`;
  const body = [
    describeChanges(inputs.filter((c) => c.kind !== "unchanged")).join("\n"),
    ...hostResults.map((h) => hostSummary(h.name, h.result)),
    ...(vmTests ?? []).map(vmTestSummary),
  ].filter((part) => part !== "");
  try {
    // Inside: a failed `git add` (a locked index) puts flake.lock back too.
    await runner.run({
      argv: ["git", "-C", options.root, "add", "flake.lock"],
      mutates: true,
      timeoutMs: 60_000,
    });
    await runner.run({
      argv: [
        "git",
        "-C",
        options.root,
        "commit",
        "-q",
        "-m",
        subject,
        ...body.flatMap((b) => ["-m", b]),
        "--",
        "flake.lock",
      ],
      mutates: true,
      timeoutMs: 60_000,
    });
  } catch (error) {
    if (!runner.dryRun) {
      // Index and file back as they were: a failed commit (a hook) leaves nothing staged.
      await runner.run({
        argv: ["git", "-C", options.root, "reset", "-q", "--", "flake.lock"],
        timeoutMs: 60_000,
      }).catch(() => {});
      await restoreLock(lockPath, oldText);
    }
    if (!(error instanceof CommandError)) throw error;
    // git's own cause (its `fatal:` line, a hook's last line), not the advice after it.
    throw new Error(`Cannot commit flake.lock: ${nixFailure(error)}; flake.lock left as it was`);
  }
  if (runner.dryRun) return { lock: "would-update", inputs, hosts: hostResults, ...tested };
  const commit = await runner.text({
    argv: ["git", "-C", options.root, "rev-parse", "HEAD"],
    timeoutMs: 60_000,
  });
  return { lock, inputs, hosts: hostResults, ...tested, commit };
}

async function restoreLock(lockPath: string, oldText: string | undefined): Promise<void> {
  if (oldText !== undefined) await writeFileAtomic(lockPath, oldText);
  else await Deno.remove(lockPath).catch(() => {});
}

function message(error: unknown): string {
  return nixFailure(error);
}

/** A host's part of the report and the commit message. */
export function hostSummary(name: string, result: HostResult): string {
  switch (result.kind) {
    case "changed":
      return `${name}: ${
        result.diff === "" ? "new toplevel, no package changes" : "closure diff:"
      }${result.diff === "" ? "" : `\n${result.diff.split("\n").map((l) => `  ${l}`).join("\n")}`}`;
    case "same":
      return `${name}: unchanged`;
    case "built":
      return `${name}: built (no earlier lock to compare with)`;
    case "failed":
      return `${name}: failed to build: ${result.message}`;
  }
}

/** The report for people. */
export function inputsText(report: InputsReport): string {
  const lines = [...describeChanges(report.inputs)];
  for (const h of report.hosts) lines.push(hostSummary(h.name, h.result));
  for (const t of report.vmTests ?? []) lines.push(vmTestSummary(t));
  const failedTest = report.vmTests?.find((t) => t.result.kind === "failed");
  const lockLine: Record<LockResult, string> = {
    updated: "flake.lock updated",
    created: "flake.lock created",
    unchanged: "flake.lock unchanged: every input is at its newest revision",
    restored: failedTest
      ? `flake.lock left as it was: VM test ${failedTest.check} failed`
      : "flake.lock left as it was: a host failed to build",
    "would-update": "flake.lock would be updated (dry run)",
  };
  lines.push(
    report.commit
      ? `${lockLine[report.lock]}, committed ${report.commit.slice(0, 12)}`
      : lockLine[report.lock],
  );
  return lines.join("\n");
}
