// What every tool's main() shares: common flags, the runner they imply, and error handling.
import { Command } from "@commander-js/extra-typings";
import { UsageError } from "./errors.ts";
import { HelpShown } from "./main.ts";
import { createRunner, type Runner } from "./runner.ts";
import { jsonForTerminal, printable } from "./terminal.ts";

export { HelpShown, runMain } from "./main.ts";
export { positiveInt, positiveIntOf } from "./cli_values.ts";

/** The flags every tool takes. */
export interface CommonOptions {
  dryRun?: boolean;
  verbose?: boolean;
  json?: boolean;
  repo?: string;
}

/** A commander program with the shared flags; usage errors become {@linkcode UsageError}. */
export function newProgram(name: string, description: string) {
  return new Command(name)
    .description(description)
    .option("--repo <dir>", "repository root (default: found from the current folder)")
    .option("-n, --dry-run", "print what would change and change nothing")
    .option("-v, --verbose", "show each command run and the tail of its output")
    .option("--json", "print a machine-readable result on stdout")
    .exitOverride((error) => {
      if (error.code === "commander.helpDisplayed" || error.code === "commander.version") {
        throw new HelpShown();
      }
      throw new UsageError(error.message.replace(/^error: /, ""));
    })
    .configureOutput({
      // commander prints its own "error: ..." before exitOverride; runMain prints ours instead.
      writeErr: (text) => {
        if (!text.startsWith("error:")) Deno.stderr.writeSync(new TextEncoder().encode(text));
      },
    });
}

/** The runner the common flags ask for. */
export function runnerFor(options: CommonOptions): Runner {
  return createRunner({ dryRun: options.dryRun ?? false, verbose: options.verbose ?? false });
}

/**
 * Prints a result: JSON on stdout with --json, else the human text (if any) on stdout; no
 * control character from the result reaches the terminal raw (terminal.ts).
 */
export function printResult(json: boolean | undefined, value: unknown, human?: string): void {
  if (json) console.log(jsonForTerminal(JSON.stringify(value, null, 2)));
  else if (human !== undefined && human !== "") console.log(printable(human));
}
