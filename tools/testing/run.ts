// Running real programs from tests and benchmarks, their output decoded.

/** A finished program. */
export interface ProgramResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for {@linkcode runProgram}. */
export interface ProgramOptions {
  cwd?: string;
  /** Added to the inherited environment. */
  env?: Record<string, string>;
  /** Text for the program's stdin; without it, stdin is closed. */
  stdin?: string;
}

/** Runs `argv` to the end and returns its exit code and output, whatever the code. */
export async function runProgram(
  argv: readonly string[],
  options: ProgramOptions = {},
): Promise<ProgramResult> {
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.env === undefined ? {} : { env: options.env }),
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(options.stdin));
    await writer.close();
  }
  const out = await child.output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Runs `argv` and returns its stdout; throws with the command and its stderr unless it exits 0. */
export async function runProgramOk(
  argv: readonly string[],
  options: ProgramOptions = {},
): Promise<string> {
  const result = await runProgram(argv, options);
  if (result.code !== 0) {
    throw new Error(`${argv.join(" ")} failed (${result.code}): ${result.stderr.trim()}`);
  }
  return result.stdout;
}
