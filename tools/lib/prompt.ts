// Reading one answer from the user on stdin (a terminal or a pipe), with the question on stderr.

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
