// What a changing command does first: finish or undo a run that was killed, never overwriting a
// file that changed after the kill.
import { dropJournal, inspectJournal, JOURNAL_DIR, rollBack } from "./journal.ts";

/** What recovery did. */
export type Recovery =
  | { kind: "none" }
  | { kind: "finishing"; command: string; startedAt: string; done: string[]; pending: string[] }
  | {
    kind: "rolled-back";
    /** True when the user asked (--abort); false when the run had not got far enough to finish. */
    asked: boolean;
    command: string;
    startedAt: string;
    restored: string[];
    kept: string[];
  };

/**
 * `finish`: a run whose files are each as before or as the run wrote them is handed on to a new
 * plan (which finishes it); a run killed before it created a file is undone. `abort`: undoes it.
 * Either way a file changed after the kill is left alone: `finish` stops, naming it.
 */
export async function recover(root: string, mode: "finish" | "abort"): Promise<Recovery> {
  const report = await inspectJournal(root);
  if (report === undefined) return { kind: "none" };
  if (report === "partial") {
    // Killed while writing backups: nothing had been changed yet.
    await dropJournal(root);
    return { kind: "none" };
  }
  const { journal, states } = report;
  const changed = states.filter((s) => s.state === "changed").map((s) => s.path);
  if (mode === "finish" && changed.length > 0) {
    throw new Error(
      `Cannot finish the \`${journal.command}\` run killed at ${journal.startedAt}: ${
        changed.join(", ")
      } changed since (neither its backup nor the run's output) and ${
        changed.length === 1 ? "was" : "were"
      } left alone; run \`deno task rekey --abort\` to undo the rest of that run and keep your changes, then run again`,
    );
  }
  // Only a run whose own writes all landed can be finished by a new plan; else it is undone.
  const unwritten = states.some((s) =>
    s.state === "before" && journal.entries.find((e) => e.path === s.path)!.kind === "write"
  );
  if (mode === "abort" || unwritten) {
    const { restored, kept } = await rollBack(root, report);
    return {
      kind: "rolled-back",
      asked: mode === "abort",
      command: journal.command,
      startedAt: journal.startedAt,
      restored,
      kept,
    };
  }
  await dropJournal(root);
  return {
    kind: "finishing",
    command: journal.command,
    startedAt: journal.startedAt,
    done: states.filter((s) => s.state === "after").map((s) => s.path),
    pending: states.filter((s) => s.state === "before").map((s) => s.path),
  };
}

/** A line for people about what recovery did, or undefined when there was nothing. */
export function describeRecovery(r: Recovery): string | undefined {
  switch (r.kind) {
    case "none":
      return undefined;
    case "finishing":
      return `Found the unfinished \`${r.command}\` run from ${r.startedAt} (${r.done.length} file(s) done, ${r.pending.length} to go); finishing it`;
    case "rolled-back":
      return `Undid the unfinished \`${r.command}\` run from ${r.startedAt}: restored ${
        r.restored.length === 0 ? "nothing (it had changed nothing yet)" : r.restored.join(", ")
      }${r.kept.length > 0 ? `; kept ${r.kept.join(", ")} (changed since)` : ""}${
        r.asked || r.command === "rekey"
          ? ""
          : `; it had not written its own changes, so run \`${r.command}\` again`
      }`;
  }
}

export { JOURNAL_DIR };
