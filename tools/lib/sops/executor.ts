// Carrying out a list of steps behind the journal: every check first, then backups, then each
// file produced in a work copy and renamed into place. A failure rolls everything back; a kill
// leaves every file either as it was or as the run meant it, and the journal says which.
import { mapPool } from "../pool.ts";
import type { Runner } from "../runner.ts";
import { oneLineMessage } from "../errors.ts";
import { checkDecryptable, sopsError } from "./sops_cli.ts";
import {
  ABSENT,
  dropJournal,
  inspectJournal,
  JOURNAL_DIR,
  makeDirs,
  makePrivateDir,
  recordOutput,
  rollBack,
  sha256,
  startJournal,
  writePrivateFile,
} from "./journal.ts";

function parentOf(path: string): string {
  return path.replace(/\/?[^/]+$/, "");
}

/** One change to the repository; the plan is a list of these. */
export type Step =
  /** Write bytes the tool computed (`.sops.yaml`, a host's `.pub`). */
  | { kind: "write"; path: string; content: string; mode: number }
  /** Create a secrets file: `content` encrypted by sops with the target `.sops.yaml`. */
  | { kind: "encrypt"; path: string; content: string; recipients: string[] }
  /** Re-key a secrets file (`sops rotate` first when a recipient goes). */
  | { kind: "rekey"; path: string; rotate: boolean; added: string[]; removed: string[] }
  /** Delete a file the tool owns (a removed host's key). */
  | { kind: "remove"; path: string }
  /**
   * Set (`value`, given to `sops set --value-stdin`, never on a command line or in a log) or
   * unset (no `value`) one key of an existing secrets file: `index` is sops's, `["a"]["b"]`.
   */
  | { kind: "set"; path: string; index: string; value?: string };

/** The steps of one command, with the `.sops.yaml` sops works from in the work folder. */
export interface StepPlan {
  /** The command, for the journal and the lock: `secrets host add web1`. */
  command: string;
  targetConfig: string;
  steps: Step[];
}

/** Where a test may stop the run (the kill-at-any-moment tests inject a hook here). */
export type StepEvent =
  | { kind: "journal-written" }
  | { kind: "output-recorded"; path: string }
  | { kind: "renamed"; path: string };

/** Options for {@linkcode executeSteps}. */
export interface ExecuteOptions {
  runner: Runner;
  parallel: number;
  /** Called at each point a kill could land; tests use it to kill the process there. */
  onEvent?: (event: StepEvent) => void | Promise<void>;
}

/** The command a step runs, as the user would type it. */
export function describeStep(step: Step): string {
  switch (step.kind) {
    case "write":
      return `write ${step.path}`;
    case "encrypt":
      return `sops encrypt --filename-override ${step.path} /dev/stdin > ${step.path}`;
    case "rekey":
      return `${
        step.rotate ? `sops rotate -i ${step.path} && ` : ""
      }sops updatekeys -y ${step.path}`;
    case "remove":
      return `rm ${step.path}`;
    case "set":
      return step.value === undefined
        ? `sops unset ${step.path} '${step.index}'`
        : `sops set --value-stdin ${step.path} '${step.index}' < (the value)`;
  }
}

async function emit(options: ExecuteOptions, event: StepEvent) {
  await options.onEvent?.(event);
}

/** Every new recipient, checked by sops itself before anything is written. */
async function checkRecipients(runner: Runner, steps: readonly Step[]): Promise<void> {
  const added = [
    ...new Set(
      steps.flatMap((s) => s.kind === "rekey" ? s.added : s.kind === "encrypt" ? s.recipients : []),
    ),
  ];
  if (added.length === 0) return;
  const dir = await Deno.makeTempDir({ prefix: "secrets-check-" });
  try {
    await runner.run({
      argv: [
        "sops",
        "encrypt",
        "--age",
        added.join(","),
        "--input-type",
        "yaml",
        "--output-type",
        "yaml",
        "/dev/stdin",
      ],
      cwd: dir,
      stdin: "check: true\n",
      discardStdout: true,
    });
  } catch (error) {
    throw sopsError("use the new key(s) for", added.join(", "), error);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * A `set` step: a work copy (the operator's own, 0600) changed by `sops set --value-stdin` (the
 * value on its stdin only) or `sops unset`, in the work folder with the target `.sops.yaml`.
 */
async function produceSet(
  root: string,
  workDir: string,
  step: Extract<Step, { kind: "set" }>,
  runner: Runner,
): Promise<Uint8Array> {
  const copy = `${workDir}/${step.path}`;
  // Like every work copy: the operator's own (0700 folders, a 0600 file), whatever the umask.
  await makePrivateDir(root, `work/${parentOf(step.path)}`);
  await writePrivateFile(copy, await Deno.readFile(`${root}/${step.path}`));
  try {
    await runner.run(
      step.value === undefined
        ? { argv: ["sops", "unset", "--idempotent", step.path, step.index], cwd: workDir }
        : {
          argv: ["sops", "set", "--value-stdin", step.path, step.index],
          cwd: workDir,
          stdin: JSON.stringify(step.value),
        },
    );
  } catch (error) {
    throw sopsError("change", step.path, error);
  }
  return await Deno.readFile(copy);
}

async function produce(
  root: string,
  workDir: string,
  step: Step,
  runner: Runner,
): Promise<Uint8Array | null> {
  if (step.kind === "remove") return null;
  if (step.kind === "set") return await produceSet(root, workDir, step, runner);
  const copy = `${workDir}/${step.path}`;
  await makePrivateDir(root, `work/${parentOf(step.path)}`);
  if (step.kind === "write") return new TextEncoder().encode(step.content);
  if (step.kind === "encrypt") {
    try {
      const out = await runner.text({
        argv: ["sops", "encrypt", "--filename-override", step.path, "/dev/stdin"],
        cwd: workDir,
        stdin: step.content,
      });
      return new TextEncoder().encode(`${out}\n`);
    } catch (error) {
      throw sopsError("create", step.path, error);
    }
  }
  // The work copy is the operator's own (0600) even when the original is read-only.
  await writePrivateFile(copy, await Deno.readFile(`${root}/${step.path}`));
  try {
    // Rotate first, while the operator is still a recipient (they may be the one removed).
    if (step.rotate) await runner.run({ argv: ["sops", "rotate", "-i", step.path], cwd: workDir });
    await runner.run({ argv: ["sops", "updatekeys", "-y", step.path], cwd: workDir });
  } catch (error) {
    throw sopsError("rekey", step.path, error);
  }
  return await Deno.readFile(copy);
}

async function place(root: string, step: Step, bytes: Uint8Array | null) {
  if (bytes === null) {
    await Deno.remove(`${root}/${step.path}`).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw new Error(`Cannot remove ${step.path}: ${oneLineMessage(error)}`);
      }
    });
    return;
  }
  // Staged apart from the work folder, whose own .sops.yaml sops still needs.
  const copy = `${root}/${JOURNAL_DIR}/out/${step.path}`;
  await makePrivateDir(root, `out/${parentOf(step.path)}`);
  const target = `${root}/${step.path}`;
  const mode = await Deno.stat(target).then((s) => s.mode, () => null);
  await writePrivateFile(copy, bytes);
  await Deno.chmod(copy, (mode ?? (step.kind === "write" ? step.mode : 0o644)) & 0o7777);
  // A new folder of the repository (secrets/users/<user>/): 0755, never writable by others.
  await makeDirs(root, parentOf(step.path), { mode: 0o755, private: false });
  try {
    await Deno.rename(copy, target);
  } catch (error) {
    throw new Error(`Cannot replace ${step.path}: ${oneLineMessage(error)}`);
  }
}

/**
 * Runs the steps: checks (the operator's identity decrypts every file to re-key, sops accepts
 * every new key), then the journal, then each step. On a failure, everything is put back and
 * an Error names the step and the cause. With --dry-run, prints the steps and changes nothing.
 */
export async function executeSteps(
  root: string,
  plan: StepPlan,
  options: ExecuteOptions,
): Promise<void> {
  const { runner } = options;
  const { steps } = plan;
  if (steps.length === 0) return;
  const rekeys = steps.filter((s) => s.kind === "rekey");
  await checkDecryptable(
    runner,
    root,
    steps.filter((s) => s.kind === "rekey" || s.kind === "set").map((s) => s.path),
    options.parallel,
  );
  await checkRecipients(runner, steps);
  if (runner.dryRun) {
    for (const step of steps) {
      runner.log(`would ${step.kind === "write" ? "" : "run: "}${describeStep(step)}`);
    }
    return;
  }
  try {
    await startJournal(
      root,
      plan.command,
      // A set's value is this run's alone: "write", so a killed run is undone, not redone.
      steps.map((s) => ({ path: s.path, kind: s.kind === "rekey" ? "rekey" : "write" })),
    );
  } catch (error) {
    // No journal.json yet: nothing was changed; the backups go.
    await dropJournal(root).catch(() => {});
    throw new Error(`Cannot write the journal: ${oneLineMessage(error)}; nothing was changed`);
  }
  await emit(options, { kind: "journal-written" });
  const workDir = `${root}/${JOURNAL_DIR}/work`;
  const run = async (step: Step) => {
    if (runner.verbose) runner.log(`step: ${describeStep(step)}`);
    const bytes = await produce(root, workDir, step, runner);
    await recordOutput(root, step.path, bytes === null ? ABSENT : await sha256(bytes));
    await emit(options, { kind: "output-recorded", path: step.path });
    await place(root, step, bytes);
    await emit(options, { kind: "renamed", path: step.path });
  };
  let failure: { step: Step | undefined; error: unknown } | undefined;
  try {
    await makePrivateDir(root, "work");
    // sops finds .sops.yaml by walking up from its working directory: the work folder has its
    // own, which only this user can read or replace (it decides who a re-keyed file is for).
    await writePrivateFile(`${workDir}/.sops.yaml`, plan.targetConfig);
  } catch (error) {
    failure = { step: undefined, error };
  }
  // Plain writes and new files first, in order; then the re-keys, in parallel.
  for (const step of failure ? [] : steps.filter((s) => s.kind !== "rekey")) {
    try {
      await run(step);
    } catch (error) {
      failure = { step, error };
      break;
    }
  }
  if (failure === undefined) {
    const results = await mapPool(rekeys, options.parallel, run, { stopOnError: true });
    const index = results.findIndex((r) => !r.ok && !("skipped" in r));
    if (index >= 0) {
      failure = { step: rekeys[index]!, error: (results[index] as { error: unknown }).error };
    }
  }
  if (failure !== undefined) {
    const message = oneLineMessage(failure.error);
    const cause = failure.step === undefined || message.startsWith("Cannot ")
      ? message
      : `Cannot write ${failure.step.path}: ${message}`;
    let undone: { restored: string[]; kept: string[] };
    try {
      const report = await inspectJournal(root);
      undone = typeof report === "object"
        ? await rollBack(root, report)
        : { restored: [], kept: [] };
      await dropJournal(root);
    } catch (rollBackError) {
      throw new Error(
        `${cause}; putting the files back failed too (${
          oneLineMessage(rollBackError)
        }): every file is as it was or re-keyed, and ${JOURNAL_DIR}/ says which; fix the cause, then run deno task rekey (finishes) or deno task rekey --abort (undoes)`,
      );
    }
    const { restored, kept } = undone;
    throw new Error(
      `${cause}; restored ${restored.length} file(s) from their backups${
        kept.length > 0 ? `, kept ${kept.join(", ")} (changed during the run)` : ""
      }; nothing else was changed`,
    );
  }
  await dropJournal(root);
}
