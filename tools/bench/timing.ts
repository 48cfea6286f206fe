// Timing whole processes for the benchmarks: warm-up, repeated runs, min / median / max.

/** Wall-clock figures of one command over several runs, in milliseconds. */
export interface Timing {
  label: string;
  runs: number;
  minMs: number;
  medianMs: number;
  maxMs: number;
}

/** Options for {@linkcode timeCommand}. */
export interface TimeOptions {
  runs?: number;
  warmup?: number;
  cwd?: string;
  env?: Record<string, string>;
  /** Exit codes that count as a normal run (e.g. `[0, 1]` for a check that may find work). */
  okCodes?: readonly number[];
}

/** The median of `values` (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  const sorted = values.toSorted((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs `argv` `warmup + runs` times and times each counted run as a whole process. */
export async function timeCommand(
  label: string,
  argv: readonly string[],
  options: TimeOptions = {},
): Promise<Timing> {
  const runs = options.runs ?? 10;
  const okCodes = options.okCodes ?? [0];
  const samples: number[] = [];
  for (let i = 0; i < (options.warmup ?? 2) + runs; i++) {
    const start = performance.now();
    const out = await new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      stdout: "null",
      stderr: "piped",
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      ...(options.env === undefined ? {} : { env: options.env }),
    }).output();
    const elapsed = performance.now() - start;
    if (!okCodes.includes(out.code)) {
      throw new Error(
        `${label}: exit code ${out.code}: ${new TextDecoder().decode(out.stderr).trim()}`,
      );
    }
    if (i >= (options.warmup ?? 2)) samples.push(elapsed);
  }
  return {
    label,
    runs,
    minMs: Math.min(...samples),
    medianMs: median(samples),
    maxMs: Math.max(...samples),
  };
}

/** A table of timings for stdout. */
export function formatTimings(timings: readonly Timing[]): string {
  const width = Math.max(...timings.map((t) => t.label.length));
  const row = (t: Timing) =>
    `${t.label.padEnd(width)}  median ${t.medianMs.toFixed(1).padStart(8)} ms  ` +
    `min ${t.minMs.toFixed(1).padStart(8)}  max ${
      t.maxMs.toFixed(1).padStart(8)
    }  (${t.runs} runs)`;
  return timings.map(row).join("\n");
}
