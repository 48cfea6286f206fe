// The one place that turns a tool's errors into a one-line message and an exit code.
// Free of npm imports so that fast tools (the pre-commit index check) can use it too.
import { exitCodeFor, oneLineMessage } from "./errors.ts";
import { printable } from "./terminal.ts";

/** Thrown when --help printed the help: exit 0. */
export class HelpShown extends Error {
  override name = "HelpShown";
}

/** Runs a tool's body and returns the exit code; errors become one line on stderr. */
export async function runMain(body: () => Promise<number | void>): Promise<number> {
  try {
    return (await body()) ?? 0;
  } catch (error) {
    if (error instanceof HelpShown) return 0;
    console.error(`error: ${printable(oneLineMessage(error))}`);
    if (Deno.env.get("DEVOPS_DEBUG") && error instanceof Error && error.stack) {
      console.error(error.stack);
    }
    return exitCodeFor(error);
  }
}
