// One progress line per host on stderr: redrawn in place on a terminal, plain lines otherwise.
// What it shows comes partly from hosts and facts (errors, health checks, closure diffs): no
// control character of theirs reaches the terminal (tools/lib/terminal.ts).
import { printable, printableLine } from "../lib/terminal.ts";

/** Where a host's deploy is. */
export type Phase =
  | "waiting"
  | "evaluating"
  | "building"
  | "connecting"
  | "copying"
  | "diffing"
  | "asking"
  | "activating"
  | "checking"
  | "confirming"
  | "recovering"
  | "ok"
  | "failed";

/** Shows per-host progress. */
export interface Progress {
  update(host: string, phase: Phase, detail?: string): void;
  /** Prints a block of text (closure diff, prompt) above the progress lines. */
  note(text: string): void;
  /** Ends the display (leaves the last state on screen). */
  done(): void;
}

/** Options for {@linkcode createProgress}. */
export interface ProgressOptions {
  /** Redraw lines in place (a terminal); else one plain line per change. */
  live: boolean;
  write?: (text: string) => void;
  /**
   * The terminal's width in columns, read at each redraw (it may change); undefined: unknown.
   * A live line is cut to fit: a wrapped line would take two rows, and moving the cursor up one
   * row per host would leave stale rows behind.
   */
  columns?: () => number | undefined;
}

/** The width of the terminal stderr is on, if it is one. */
export function terminalColumns(): number | undefined {
  try {
    return Deno.consoleSize().columns || undefined;
  } catch {
    return undefined;
  }
}

/** `line` cut to `columns - 1` characters ("…" last when cut): it never wraps. */
export function fitLine(line: string, columns: number | undefined): string {
  if (columns === undefined) return line;
  const chars = [...line];
  const room = Math.max(columns - 1, 1);
  return chars.length <= room ? line : `${chars.slice(0, room - 1).join("")}…`;
}

/** Makes a {@linkcode Progress} for `hosts`. */
export function createProgress(hosts: readonly string[], options: ProgressOptions): Progress {
  const encoder = new TextEncoder();
  const write = options.write ?? ((text: string) => {
    try {
      Deno.stderr.writeSync(encoder.encode(text));
    } catch {
      // A closed terminal (SIGHUP) or stderr: progress is lost, the deploy goes on to its end.
    }
  });
  const width = Math.max(...hosts.map((h) => h.length), 4);
  const lines = new Map(hosts.map((h) => [h, `${h.padEnd(width)}  waiting`]));
  let drawn = 0;
  const columns = options.columns ?? terminalColumns;
  const render = () => {
    const cols = columns();
    let text = drawn > 0 ? `\x1b[${drawn}A` : "";
    for (const line of lines.values()) text += `\x1b[2K${fitLine(line, cols)}\n`;
    drawn = lines.size;
    write(text);
  };
  return {
    update(host, phase, detail) {
      const line = printableLine(`${host.padEnd(width)}  ${phase}${detail ? `: ${detail}` : ""}`);
      if (lines.get(host) === line) return;
      lines.set(host, line);
      if (options.live) render();
      else write(`${line}\n`);
    },
    note(raw) {
      const text = printable(raw);
      if (options.live) {
        write(`${drawn > 0 ? `\x1b[${drawn}A\x1b[0J` : ""}${text.replace(/\n?$/, "\n")}`);
        drawn = 0;
        render();
      } else {
        write(text.replace(/\n?$/, "\n"));
      }
    },
    done() {
      drawn = 0;
    },
  };
}
