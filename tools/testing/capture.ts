// Runs a tool's main() in the test process and collects what it prints.

/** What a main() returned and printed. */
export interface Captured {
  code: number;
  stdout: string;
  stderr: string;
}

/** Calls `main`, collecting console.log as stdout and console.error as stderr. */
export async function captureMain(main: () => Promise<number>): Promise<Captured> {
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...parts: unknown[]) => out.push(parts.join(" "));
  console.error = (...parts: unknown[]) => err.push(parts.join(" "));
  try {
    const code = await main();
    return { code, stdout: out.join("\n"), stderr: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}
