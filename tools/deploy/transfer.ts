// Transfer: the first contact (pinned host key), the closure copy, the build on the target and
// the probe with the closure diff.
import { causeLine, CommandError } from "../lib/errors.ts";
import {
  classifySshFailure,
  diagnoseMismatch,
  hostKeyMismatch,
  parseProbe,
} from "../lib/fleet/mod.ts";
import type { ExecuteDeps, HostRun } from "./host_run.ts";
import type { Step } from "./steps.ts";

/** Opens the host's shared connection (or awaits the one opened during the build). */
export async function connect(run: HostRun, step: Step, opened?: Promise<unknown>): Promise<void> {
  try {
    await (opened ?? run.exec(step));
  } catch (error) {
    if (
      error instanceof CommandError &&
      classifySshFailure(error.stderrTail).kind === "host-key-mismatch"
    ) {
      const { host, deps } = run;
      const pinned = deps.pinnedKeys.get(host.host)?.key;
      throw new Error(
        hostKeyMismatch(
          await diagnoseMismatch(deps.runner, host, pinned, deps.ssh.connectTimeout),
        ),
      );
    }
    throw error;
  }
}

/**
 * Copies to the host (`nix copy`, bounded by its `copyTimeout`): a copy over its bound fails
 * with one line naming the bound, the likely causes and what to do; a copy the target's side
 * ended shows the target's words (see {@linkcode copyCause}).
 */
export async function copy(run: HostRun, step: Step): Promise<void> {
  try {
    await run.exec(step);
  } catch (error) {
    if (!(error instanceof CommandError) || run.deps.interrupted?.()) throw error;
    if (error.code === 124 && step.timeoutSeconds !== undefined) {
      throw new Error(
        `nix copy did not end within ${step.timeoutSeconds} s (copyTimeout): the target's ` +
          "store may be waiting on a lock (another nix process there), or the closure is too " +
          `big for the link; raise copyTimeout in the deploy facts of "${run.host.host}"`,
      );
    }
    const cause = copyCause(error.stderrTail);
    if (cause !== undefined) throw new Error(cause);
    throw error;
  }
}

/**
 * What ended a copy, when the target's side did: nix then says only `unexpected end-of-file`,
 * and the real cause is the line before, from the target's nix (its stderr comes through ssh),
 * e.g. `error: … database or disk is full` when the target's /nix is full. Undefined when the
 * output has no such line (nix's own last error line then stands).
 */
export function copyCause(stderr: string): string | undefined {
  const last = causeLine(stderr);
  if (!/unexpected end-of-file/.test(last)) return undefined;
  const lines = stderr.split("\n").map((l) => l.trim()).filter(Boolean);
  const ssh = lines.findLast((l) => /^ssh:/.test(l));
  if (ssh !== undefined) return ssh;
  const remote = lines.findLast((l) => /^error\b/i.test(l) && l !== last);
  if (remote === undefined) return undefined;
  return /no space left on device|disk is full/i.test(remote)
    ? `no space left on the target's /nix (target: ${remote}): free space there, e.g. ` +
      "nix-collect-garbage, and deploy again"
    : `target: ${remote}`;
}

/**
 * Reads the generation and the closure diff against the current system (one call). The diff
 * is information: a failing one (nix < 2.4 on the target, any nix error) or one that ran past
 * the probe's bound is noted, and the deploy goes on; a lost connection still fails the host.
 */
export async function probe(run: HostRun, step: Step): Promise<void> {
  let out: string;
  try {
    out = (await run.exec(step)).stdout;
  } catch (error) {
    if (!(error instanceof CommandError) || error.code !== 124 || run.deps.interrupted?.()) {
      throw error;
    }
    run.deps.progress.note(
      `${run.host.host}: closure diff unavailable: timed out after ${step.timeoutSeconds} s`,
    );
    return;
  }
  const probed = parseProbe(out);
  if (probed.generation !== undefined) run.report.previousGeneration = probed.generation;
  if (probed.diff.kind === "failed") {
    run.deps.progress.note(`${run.host.host}: closure diff unavailable: ${probed.diff.reason}`);
    return;
  }
  if (probed.before !== undefined && probed.diff.kind === "done") {
    const before = probed.before;
    run.report.closureDiff = probed.diff.text;
    run.deps.progress.note(
      `${run.host.host}: closure diff ${before} → ${run.values.toplevel}\n${
        indent(run.report.closureDiff || "(no version changes)")
      }`,
    );
  }
}

/** Indents every line by two spaces. */
export function indent(text: string): string {
  return text.split("\n").map((l) => `  ${l}`).join("\n");
}

/** Whether the deps ask for short or long errors. */
export function verboseOf(deps: ExecuteDeps): boolean {
  return deps.runner.verbose;
}
