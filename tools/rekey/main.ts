// Keeps .sops.yaml and every file under secrets/ in step with the admin and host keys. Run: deno task rekey [--check]
import { newProgram, printResult, runMain, runnerFor } from "../lib/cli.ts";
import { UsageError } from "../lib/errors.ts";
import { findRepoRoot } from "../lib/repo.ts";
import { readTextIfExists } from "../lib/fs.ts";
import { unifiedDiff } from "../lib/diff.ts";
import type { Runner } from "../lib/runner.ts";
import {
  executeRekey,
  type FileResult,
  JOURNAL_DIR,
  pinSopsKeyFile,
  readRepoState,
  recoverJournal,
} from "./executor.ts";
import { planRekey, type Problem } from "./plan.ts";

/** Options for {@linkcode rekey}. */
export interface RekeyOptions {
  runner: Runner;
  rotate: boolean;
  parallel: number;
  /** A `.sops.yaml` to use instead of the one on disk (key management commands). */
  configText?: string;
  /** Restore from an unfinished run's journal, including the original `.sops.yaml`, and stop. */
  abort?: boolean;
}

/** What a rekey did. */
export interface RekeyResult {
  configChanged: boolean;
  configDiff: string;
  files: FileResult[];
  problems: Problem[];
}

/** Re-keys the repository at `root`: recovers a journal, plans, shows the diff, executes. */
export async function rekey(root: string, options: RekeyOptions): Promise<RekeyResult> {
  const { runner } = options;
  if (runner.dryRun) {
    if (await Deno.stat(`${root}/${JOURNAL_DIR}/journal.json`).then(() => true, () => false)) {
      runner.log(`note: an unfinished rekey left ${JOURNAL_DIR}/; a real run finishes it first`);
    }
  } else {
    await recoverJournal(root, { abort: options.abort ?? false, log: runner.log });
    if (options.abort) return { configChanged: false, configDiff: "", files: [], problems: [] };
  }
  const diskText = (await readTextIfExists(`${root}/.sops.yaml`)) ?? "";
  const state = await readRepoState(root, options.configText);
  const plan = planRekey({ ...state, rotate: options.rotate });
  const configDiff = unifiedDiff(".sops.yaml", diskText, plan.configText);
  if (configDiff !== "") runner.log(configDiff);
  const blocking = plan.problems.filter((p) => p.kind === "plaintext" || p.kind === "no-rule");
  for (const p of blocking) runner.log(`warning: ${p.message}; left alone`);
  const files = await executeRekey(root, { ...plan, configChanged: configDiff !== "" }, {
    runner,
    parallel: options.parallel,
  });
  return { configChanged: configDiff !== "", configDiff, files, problems: plan.problems };
}

/** `--check`: the problems, with no keys and no changes. */
export async function checkRepo(root: string): Promise<Problem[]> {
  const state = await readRepoState(root);
  const problems = planRekey(state).problems;
  if (await Deno.stat(`${root}/${JOURNAL_DIR}`).then(() => true, () => false)) {
    problems.unshift({
      kind: "stale-config",
      subject: JOURNAL_DIR,
      message: `${JOURNAL_DIR}/: an unfinished rekey; run deno task rekey to finish it`,
    });
  }
  return problems;
}

/** A per-file summary for people. */
export function formatSummary(result: RekeyResult): string {
  const lines: string[] = [];
  if (result.configChanged) lines.push(".sops.yaml: updated");
  for (const f of result.files) {
    const parts = [
      f.added.length > 0 ? `+${f.added.length} (${f.added.join(", ")})` : "",
      f.removed.length > 0 ? `-${f.removed.length} (${f.removed.join(", ")})` : "",
      f.rotated ? "rotated" : f.removed.length > 0 && f.status === "updated" ? "not rotated" : "",
    ].filter(Boolean);
    lines.push(`${f.path}: ${f.status} ${parts.join(" ")}`.trimEnd());
  }
  if (lines.length === 0) lines.push("Everything is in step; nothing to do");
  return lines.join("\n");
}

export function parseParallel(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`Invalid --parallel "${value}": expected a whole number ≥ 1`);
  }
  return n;
}

/** The CLI. */
export async function main(args: string[]): Promise<number> {
  return await runMain(async () => {
    pinSopsKeyFile();
    const program = newProgram(
      "rekey",
      "Keep .sops.yaml and every file under secrets/ in step with the keys",
    )
      .option("--check", "report what is out of step and exit 1 (needs no keys, changes nothing)")
      .option("--no-rotate", "do not rotate the data key after removing a recipient")
      .option("--parallel <n>", "files re-keyed at once", parseParallel, 4)
      .option("--abort", "undo an unfinished run from its journal and stop");
    program.parse(args, { from: "user" });
    const opts = program.opts();
    const root = await findRepoRoot(Deno.cwd(), opts.repo);
    if (opts.check) {
      const problems = await checkRepo(root);
      printResult(
        opts.json,
        { ok: problems.length === 0, problems },
        problems.map((p) => p.message).join("\n"),
      );
      return problems.length === 0 ? 0 : 1;
    }
    const result = await rekey(root, {
      runner: runnerFor(opts),
      rotate: opts.rotate,
      parallel: opts.parallel,
      abort: opts.abort ?? false,
    });
    printResult(opts.json, result, formatSummary(result));
    return 0;
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
