// One progress line per host on stderr: redrawn in place on a terminal, plain lines otherwise.

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
}

/** Makes a {@linkcode Progress} for `hosts`. */
export function createProgress(hosts: readonly string[], options: ProgressOptions): Progress {
  const encoder = new TextEncoder();
  const write = options.write ?? ((text: string) => Deno.stderr.writeSync(encoder.encode(text)));
  const width = Math.max(...hosts.map((h) => h.length), 4);
  const lines = new Map(hosts.map((h) => [h, `${h.padEnd(width)}  waiting`]));
  let drawn = 0;
  const render = () => {
    let text = drawn > 0 ? `\x1b[${drawn}A` : "";
    for (const line of lines.values()) text += `\x1b[2K${line}\n`;
    drawn = lines.size;
    write(text);
  };
  return {
    update(host, phase, detail) {
      const line = `${host.padEnd(width)}  ${phase}${detail ? `: ${detail}` : ""}`;
      if (lines.get(host) === line) return;
      lines.set(host, line);
      if (options.live) render();
      else write(`${line}\n`);
    },
    note(text) {
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
