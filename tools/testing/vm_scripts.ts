// The VM test scripts of tests/vm against the NixOS test driver's calls listed in
// tests/vm/driver-methods.tsv: each script compiled by Python and its driver calls checked
// (tools/testing/driver_calls.py), for tools/vm_tests_test.ts and tools/nix_eval_test.ts.
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { runProgram } from "./run.ts";

const checkout = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The list of driver calls a script may make, with provenance. */
export const DRIVER_METHODS = join(checkout, "tests", "vm", "driver-methods.tsv");
const checker = join(checkout, "tools", "testing", "driver_calls.py");

/** What is wrong with a test script: it does not compile, or calls what the list omits. */
export type ScriptCheck =
  | { kind: "ok" }
  | { kind: "does-not-compile"; error: string }
  | { kind: "unknown-calls"; calls: string[] };

/**
 * Compiles the script at `path` and checks every call of a driver global and every method
 * called on one of `machines` (the names the script's machines are bound to) against `methods`.
 */
export async function checkScript(
  path: string,
  machines: readonly string[],
  methods = DRIVER_METHODS,
): Promise<ScriptCheck> {
  const result = await runProgram(["python3", checker, path, methods, ...machines]);
  if (result.code !== 0) {
    throw new Error(`python3 ${checker} failed (${result.code}): ${result.stderr.trim()}`);
  }
  const out = JSON.parse(result.stdout) as { error?: string; unknown?: string[] };
  if (out.error !== undefined) return { kind: "does-not-compile", error: out.error };
  if (out.unknown !== undefined && out.unknown.length > 0) {
    return { kind: "unknown-calls", calls: out.unknown };
  }
  return { kind: "ok" };
}

/** Checks `script` (the text of a test script) the same way, through a temporary file. */
export async function checkScriptText(
  script: string,
  machines: readonly string[],
): Promise<ScriptCheck> {
  const dir = await Deno.makeTempDir({ prefix: "vm-script-" });
  try {
    const path = join(dir, "test-script.py");
    await Deno.writeTextFile(path, script);
    return await checkScript(path, machines);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
