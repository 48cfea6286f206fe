// Bounded waiting for tests: poll a probe until it gives a value, and a free local port.

/** Polls `probe` every 50 ms until it gives a value (not undefined/false), for at most `seconds`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false>,
  seconds = 60,
): Promise<T> {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`Waited ${seconds} s for ${what}`);
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}
