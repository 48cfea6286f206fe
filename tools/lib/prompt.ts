// Asking the user, for every tool: one answer from stdin (a terminal or a pipe) with the
// question on stderr (stdout stays for --json), a yes/no, one question at a time, a secret.
import { UsageError } from "./errors.ts";

/** Reads one line from stdin; undefined when stdin ends first. */
export async function readLine(): Promise<string | undefined> {
  const decoder = new TextDecoder();
  const buffer = new Uint8Array(1);
  let line = "";
  const bytes: number[] = [];
  // Byte by byte, so nothing after the newline is consumed from a shared stdin.
  while (true) {
    const read = await Deno.stdin.read(buffer);
    if (read === null) {
      return bytes.length === 0 ? undefined : decoder.decode(new Uint8Array(bytes));
    }
    if (buffer[0] === 0x0a) break;
    bytes.push(buffer[0]!);
  }
  line = decoder.decode(new Uint8Array(bytes));
  return line.replace(/\r$/, "");
}

/** Shows `question` on stderr and returns the answer, or undefined when stdin is closed. */
export async function ask(question: string): Promise<string | undefined> {
  await Deno.stderr.write(new TextEncoder().encode(question));
  const answer = await readLine();
  if (answer === undefined) await Deno.stderr.write(new TextEncoder().encode("\n"));
  return answer;
}

/** Whether an answer is yes (`y`, `yes`, any case); no answer (stdin closed) is no. */
export function isYes(answer: string | undefined): boolean {
  return /^y(es)?$/i.test(answer?.trim() ?? "");
}

/** Asks a yes/no question (see {@linkcode ask}); anything but yes, or a closed stdin, is no. */
export async function askYesNo(question: string): Promise<boolean> {
  return isYes(await ask(question));
}

/**
 * A yes/no question for a person at a terminal (`question [y/N] ` on stderr): no terminal on
 * stdin (a script, a pipe) is no, so the caller asks for `--yes` instead.
 */
export async function confirmOnTerminal(question: string): Promise<boolean> {
  if (!Deno.stdin.isTerminal()) return false;
  return await askYesNo(`${question} [y/N] `);
}

/**
 * Asks the person to type `name` to confirm (`Type <name> to confirm: ` on stderr, for a change
 * no "y" should make); true only when exactly `name` is typed, false on anything else or no
 * terminal on stdin.
 */
export async function askToType(question: string, name: string): Promise<boolean> {
  if (!Deno.stdin.isTerminal()) return false;
  return (await ask(`${question}\nType ${name} to confirm: `))?.trim() === name;
}

/**
 * Wraps a question so that concurrent callers ask one at a time, in call order: a question
 * waits until the one before it is answered (a failed one counts as no).
 */
export function oneQuestionAtATime<A extends unknown[], T>(
  question: (...args: A) => Promise<T>,
): (...args: A) => Promise<T> {
  let chain: Promise<unknown> = Promise.resolve();
  return (...args) => {
    const answer = chain.then(() => question(...args));
    chain = answer.catch(() => undefined);
    return answer;
  };
}

/**
 * Reads one line without echo on a terminal (raw mode; Ctrl-C cancels, DEL erases), or the
 * first line of stdin otherwise; the question goes to stderr. For passwords: never shown.
 */
export async function readSecret(question: string): Promise<string> {
  const encoder = new TextEncoder();
  const terminal = Deno.stdin.isTerminal();
  if (terminal) {
    Deno.stderr.writeSync(encoder.encode(question));
    Deno.stdin.setRaw(true);
  }
  const bytes: number[] = [];
  const buffer = new Uint8Array(1);
  try {
    while ((await Deno.stdin.read(buffer)) === 1) {
      const byte = buffer[0]!;
      if (byte === 3) throw new UsageError("Cancelled");
      if (byte === 10 || byte === 13) break;
      if (byte === 127) bytes.pop();
      else bytes.push(byte);
    }
  } finally {
    if (terminal) {
      Deno.stdin.setRaw(false);
      Deno.stderr.writeSync(encoder.encode("\n"));
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}
