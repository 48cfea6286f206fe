// Running the pinned connection: one ssh command with a timeout, its failure typed, and the
// diagnosis of a host key mismatch (what the host presents, read with ssh-keyscan).
import { CommandError } from "../errors.ts";
import type { Runner } from "../runner.ts";
import { fingerprint, keyFromKeyscan, keyscanArgv } from "./keys.ts";
import {
  classifySshFailure,
  type HostKeyMismatch,
  type SshFailure,
  type SshTarget,
} from "./ssh.ts";

/** What one ssh command came to: its output, or why the connection failed. */
export type SshOutcome =
  | { ok: true; stdout: string }
  /** ssh itself failed (exit 255): no connection, or not the pinned host. */
  | { ok: false; failure: SshFailure }
  /** The remote command ran and exited non-zero. */
  | { ok: false; code: number; stderr: string };

/** Runs an ssh argv (see ssh.ts), killed after `timeoutMs`; never throws for ssh's failures. */
export async function runSsh(
  runner: Runner,
  argv: readonly string[],
  timeoutMs: number,
): Promise<SshOutcome> {
  try {
    const result = await runner.run({ argv, okCodes: [255], timeoutMs });
    if (result.code === 0) return { ok: true, stdout: result.stdout };
    return { ok: false, failure: classifySshFailure(result.stderr) };
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    if (error.code === 124) {
      return {
        ok: false,
        failure: { kind: "timed-out", detail: `no answer within ${timeoutMs / 1000} s` },
      };
    }
    return { ok: false, code: error.code, stderr: error.stderrTail };
  }
}

/**
 * Diagnoses a host key mismatch: the pinned key's fingerprint and the one the host presents
 * now (`ssh-keyscan`, only shown, never trusted). A scan that fails leaves `presented` unset.
 */
export async function diagnoseMismatch(
  runner: Runner,
  target: SshTarget,
  pinnedKey: string | undefined,
  timeoutSeconds: number,
): Promise<HostKeyMismatch> {
  let presented: string | undefined;
  try {
    const scanned = await runner.run({
      argv: keyscanArgv(target.address, target.port, timeoutSeconds),
      okCodes: [1],
      timeoutMs: (timeoutSeconds + 5) * 1000,
    });
    const key = keyFromKeyscan(scanned.stdout);
    if (key !== undefined) presented = fingerprint(key);
  } catch {
    // Only for the message; the refusal stands either way.
  }
  return {
    host: target.host,
    address: target.address,
    port: target.port,
    expected: pinnedKey === undefined ? undefined : fingerprint(pinnedKey),
    presented,
  };
}
