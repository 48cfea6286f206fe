// The shape of every command that changes the secrets: take the lock, finish a killed run, read
// the state, plan, show the `.sops.yaml` diff, execute; and the per-file summary of what it did.
// The secrets tool and `host new` run their plans through it.
import type { CommonOptions } from "../cli.ts";
import { createRunner } from "../runner.ts";
import { pathExists, readTextIfExists } from "../fs.ts";
import { unifiedDiff } from "../diff.ts";
import type { Runner } from "../runner.ts";
import { executeSteps, type StepEvent } from "./executor.ts";
import { JOURNAL_DIR } from "./journal.ts";
import { acquireLock, runningHolder } from "./lock.ts";
import type { CommandPlan } from "./operations.ts";
import type { Problem } from "./plan.ts";
import { describeRecovery, recover, type Recovery } from "./recovery.ts";
import { readRepoState, type RepoState } from "./repo_state.ts";

/** Seams for tests: where a kill-at-any-moment test stops the process. */
export interface ChangeHooks {
  onEvent?: (event: StepEvent) => void | Promise<void>;
}

/** One file's outcome, for the summary and --json. */
export interface FileResult {
  path: string;
  added: string[];
  removed: string[];
  rotated: boolean;
  status: "updated" | "created" | "would-update";
}

/** What a changing command did. */
export interface RunResult {
  recovery: Recovery;
  configChanged: boolean;
  files: FileResult[];
  problems: Problem[];
}

/** The options a changing command takes: the common flags, --parallel and --no-rotate. */
export interface ChangeOptions extends CommonOptions {
  parallel: number;
  rotate: boolean;
}

/** A per-file summary for people. */
export function formatSummary(result: RunResult): string {
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
  if (lines.length === 0 && result.recovery.kind === "none") {
    lines.push("Everything is in step; nothing to do");
  }
  return lines.join("\n");
}

/** Notes a rekey running in another process (a read shows the state before it ends). */
export async function noteRunning(root: string, runner: Runner): Promise<void> {
  const holder = await runningHolder(root);
  if (holder !== undefined) {
    runner.log(
      `note: a rekey (pid ${holder.pid}, \`${holder.command}\`) is running; this shows the state before it finishes`,
    );
  }
}

/**
 * The shape of every changing command: take the lock, finish or undo a killed run, read the
 * state, plan, show the `.sops.yaml` diff, execute. --dry-run takes no lock and writes nothing.
 */
export async function changeRepo(
  root: string,
  opts: ChangeOptions,
  hooks: ChangeHooks,
  build: (state: RepoState) => CommandPlan | Promise<CommandPlan>,
  options: { command: string },
): Promise<RunResult> {
  const runner = createRunner({ dryRun: opts.dryRun ?? false, verbose: opts.verbose ?? false });
  let recovery: Recovery = { kind: "none" };
  const lock = runner.dryRun ? undefined : await acquireLock(root, options.command);
  try {
    if (lock?.stale !== undefined) {
      runner.log(
        `note: took over the lock of pid ${lock.stale.pid} (\`${lock.stale.command}\`), which is no longer running`,
      );
    }
    if (runner.dryRun) {
      await noteRunning(root, runner);
      if (await pathExists(`${root}/${JOURNAL_DIR}/journal.json`)) {
        runner.log(`note: an unfinished run left ${JOURNAL_DIR}/; a real run finishes it first`);
      }
    } else {
      recovery = await recover(root, "finish");
      const line = describeRecovery(recovery);
      if (line !== undefined) runner.log(line);
    }
    const state = await readRepoState(root);
    const plan = await build(state);
    const diskText = (await readTextIfExists(`${root}/.sops.yaml`)) ?? "";
    const diff = unifiedDiff(".sops.yaml", diskText, plan.rekey.configText);
    if (diff !== "") runner.log(diff);
    for (const p of plan.rekey.problems) {
      if (p.kind === "plaintext" || p.kind === "no-rule") {
        runner.log(`warning: ${p.message}; left alone`);
      }
      if (p.kind === "admin-missing" || p.kind === "host-missing") {
        runner.log(`warning: ${p.message}`);
      }
    }
    await executeSteps(root, plan.steps, {
      runner,
      parallel: opts.parallel,
      ...(hooks.onEvent ? { onEvent: hooks.onEvent } : {}),
    });
    const status: FileResult["status"] = runner.dryRun ? "would-update" : "updated";
    const files: FileResult[] = plan.steps.steps.flatMap((s): FileResult[] => {
      if (s.kind === "rekey") {
        return [{
          path: s.path,
          added: s.added,
          removed: s.removed,
          rotated: s.rotate && !runner.dryRun,
          status,
        }];
      }
      if (s.kind === "set") {
        return [{ path: s.path, added: [], removed: [], rotated: false, status }];
      }
      if (s.kind === "encrypt") {
        const f = plan.rekey.files.find((x) => x.path === s.path);
        return [{
          path: s.path,
          added: f?.wanted ?? [],
          removed: [],
          rotated: false,
          status: runner.dryRun ? "would-update" : "created",
        }];
      }
      return [];
    });
    return {
      recovery,
      configChanged: plan.steps.steps.some((s) => s.path === ".sops.yaml"),
      files,
      problems: plan.rekey.problems,
    };
  } finally {
    await lock?.[Symbol.asyncDispose]();
  }
}
