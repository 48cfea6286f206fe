// Reading Nix values as validated JSON.
import type { z } from "zod";
import type { Runner } from "./runner.ts";
import { describeZodError } from "./validate.ts";

/** Options for {@linkcode nixEvalJson}. */
export interface NixEvalOptions {
  cwd?: string;
  /** What the value is, for error messages: `host facts`. */
  what: string;
  /** Bound on the evaluation; the command is stopped after it. */
  timeoutMs?: number;
}

/** Runs `nix eval --json <args>` and validates the result with `schema`. */
export async function nixEvalJson<T extends z.ZodType>(
  runner: Runner,
  args: readonly string[],
  schema: T,
  options: NixEvalOptions,
): Promise<z.infer<T>> {
  const stdout = await runner.text({
    argv: ["nix", "eval", "--json", ...args],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
  let value: unknown;
  try {
    value = JSON.parse(stdout);
  } catch {
    throw new Error(`Cannot read ${options.what}: nix eval printed no JSON`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new Error(`Invalid ${options.what}: ${describeZodError(parsed.error)}`);
  }
  return parsed.data;
}
