// Timing whole processes for the benchmarks: warm-up, repeated runs, min / median / max.

/** Wall-clock figures of one command over several runs, in milliseconds. */
export interface Timing {
  label: string;
  runs: number;
  minMs: number;
  medianMs: number;
  maxMs: number;
  /** Each counted run, in order (for ratios run by run). */
  samples?: number[];
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

/** One command of {@linkcode timeInTurn}. */
export interface TimedCommand {
  label: string;
  argv: readonly string[];
  cwd?: string;
  okCodes?: readonly number[];
}

/**
 * Times several commands in turn — A B C, A B C, … — so that a machine whose speed drifts (a
 * shared one) slows every command alike, and ratios can be taken run by run.
 */
export async function timeInTurn(
  commands: readonly TimedCommand[],
  options: { runs?: number; warmup?: number } = {},
): Promise<Timing[]> {
  const runs = options.runs ?? 10;
  const warmup = options.warmup ?? 2;
  const samples = commands.map((): number[] => []);
  for (let round = 0; round < warmup + runs; round++) {
    for (const [i, command] of commands.entries()) {
      const elapsed = await timeOnce(command);
      if (round >= warmup) samples[i]!.push(elapsed);
    }
  }
  return commands.map((command, i) => ({
    label: command.label,
    runs,
    minMs: Math.min(...samples[i]!),
    medianMs: median(samples[i]!),
    maxMs: Math.max(...samples[i]!),
    samples: samples[i]!,
  }));
}

/** The median of `a`'s runs divided by `b`'s, run by run (both from one {@linkcode timeInTurn}). */
export function medianRatio(a: Timing, b: Timing): number {
  const ratios = (a.samples ?? []).map((ms, i) => ms / (b.samples ?? [])[i]!);
  return median(ratios);
}

async function timeOnce(command: TimedCommand): Promise<number> {
  const start = performance.now();
  const out = await new Deno.Command(command.argv[0]!, {
    args: command.argv.slice(1),
    stdout: "null",
    stderr: "piped",
    ...(command.cwd === undefined ? {} : { cwd: command.cwd }),
  }).output();
  const elapsed = performance.now() - start;
  if (!(command.okCodes ?? [0]).includes(out.code)) {
    const why = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`${command.label}: exit code ${out.code}: ${why}`);
  }
  return elapsed;
}
