// Running sops: its own cause of a failure in one line, and the identity check that never
// lets a decrypted byte into this process.
import { CommandError } from "../errors.ts";
import { mapPool } from "../pool.ts";
import type { Runner } from "../runner.ts";

/** Why sops failed, from its stderr. */
export interface SopsCause {
  /** `no-identity`: none of the operator's keys is a recipient; `other`: sops said why. */
  kind: "no-identity" | "other";
  message: string;
}

/** Reads sops's stderr: the `- | …` details of a failed key group, else its first line. */
export function sopsCause(stderr: string): SopsCause {
  const lines = stderr.split("\n");
  const details: string[] = [];
  for (const line of lines) {
    const m = line.match(/^\s*(-\s*)?\|\s?(.*)$/);
    if (!m) continue;
    if (m[1] !== undefined || details.length === 0) details.push(m[2]!.trim());
    else details[details.length - 1] += ` ${m[2]!.trim()}`;
  }
  const detail = details.map((d) => d.replace(/\.? Did not find keys in locations .*$/, "")).find(
    Boolean,
  );
  if (detail !== undefined) {
    const kind =
      /no identity matched any of the recipients|^failed to load age identities$/.test(detail)
        ? "no-identity"
        : "other";
    return { kind, message: detail.replace(/\s+/g, " ").replace(/\.$/, "") };
  }
  // Skip sops's timestamped progress lines ("2026/01/01 00:00:00 Syncing keys for file …").
  const first =
    lines.map((l) => l.trim()).find((l) => l !== "" && !/^\d{4}\/\d\d\/\d\d /.test(l)) ??
      "sops failed with no message";
  return { kind: "other", message: first.replace(/\.$/, "") };
}

/** The operator's age identity file as sops will look for it. */
export function identityFile(): string {
  return Deno.env.get("SOPS_AGE_KEY_FILE") ?? "~/.config/sops/age/keys.txt";
}

/** Why sops could not decrypt a file, for people. */
export function decryptFailure(stderr: string): string {
  const cause = sopsCause(stderr);
  return cause.kind === "no-identity"
    ? `your identity (${identityFile()}) is not one of its recipients`
    : `sops says: ${cause.message}`;
}

/**
 * Stops with each file sops cannot decrypt and sops's own reason; changes nothing. Only the exit
 * status is used: the decrypted text goes to /dev/null, never into this process or a log.
 */
export async function checkDecryptable(
  runner: Runner,
  root: string,
  paths: readonly string[],
  parallel: number,
): Promise<void> {
  const results = await mapPool(paths, parallel, (path) =>
    runner.run({
      argv: ["sops", "decrypt", "--", path],
      cwd: root,
      discardStdout: true,
      okCodes: Array.from({ length: 255 }, (_, i) => i + 1),
    }));
  // Files that fail for one reason are named together: one line, however many files.
  const byCause = new Map<string, string[]>();
  results.forEach((r, i) => {
    const path = paths[i]!;
    let cause: string | undefined;
    if (!r.ok) cause = `${(r as { error?: unknown }).error ?? "not run"}`;
    else if (r.value.code !== 0) cause = decryptFailure(r.value.stderr);
    if (cause !== undefined) byCause.set(cause, [...(byCause.get(cause) ?? []), path]);
  });
  if (byCause.size > 0) {
    const parts = [...byCause].map(([cause, files]) => `${files.join(", ")}: ${cause}`);
    throw new Error(`Cannot decrypt ${parts.join("; ")}; nothing was changed`);
  }
}

/** A sops failure as one line naming the file and sops's own cause. */
export function sopsError(action: string, path: string, error: unknown): Error {
  if (error instanceof CommandError) {
    return new Error(`Cannot ${action} ${path}: sops says: ${sopsCause(error.stderrTail).message}`);
  }
  return new Error(`Cannot ${action} ${path}: ${(error as Error).message ?? String(error)}`);
}
