import { assert, assertEquals, assertRejects, assertThrows } from "./assert.ts";
import { startTcpRelay } from "./tcp_relay.ts";

/** An echo server on 127.0.0.1: sends back what it reads, half-closes after the client does. */
function startEchoServer() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sessions = new Set<Promise<void>>();
  const conns = new Set<Deno.Conn>();
  const loop = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      const session = (async () => {
        try {
          const buffer = new Uint8Array(65536);
          for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
            const data = buffer.subarray(0, n);
            for (let done = 0; done < n;) done += await conn.write(data.subarray(done));
          }
          await conn.closeWrite();
        } catch {
          // The relay closed the connection.
        } finally {
          if (conns.delete(conn)) conn.close();
        }
      })();
      sessions.add(session);
      session.finally(() => sessions.delete(session));
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async [Symbol.asyncDispose]() {
      listener.close();
      await loop.catch(() => {});
      for (const conn of conns) {
        conns.delete(conn);
        conn.close();
      }
      await Promise.all(sessions);
    },
  };
}

async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  const buffer = new Uint8Array(65536);
  for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) {
    parts.push(buffer.slice(0, n));
  }
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

async function readExactly(conn: Deno.Conn, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  for (let at = 0; at < length;) {
    const n = await conn.read(out.subarray(at));
    if (n === null) throw new Error(`the stream ended after ${at} of ${length} bytes`);
    at += n;
  }
  return out;
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let done = 0; done < data.length;) done += await conn.write(data.subarray(done));
}

/** Polls `condition` every 5 ms for up to 5 s. */
async function eventually(what: string, condition: () => boolean): Promise<void> {
  const deadline = performance.now() + 5000;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

Deno.test("startTcpRelay() delays each round trip by at least both one-way delays", async () => {
  await using echo = startEchoServer();
  await using relay = startTcpRelay({
    target: { hostname: "127.0.0.1", port: echo.port },
    toTargetDelayMs: 30,
    fromTargetDelayMs: 20,
  });
  const conn = await Deno.connect({ hostname: relay.hostname, port: relay.port });
  try {
    const ping = new TextEncoder().encode("ping");
    for (let round = 0; round < 3; round++) {
      const started = performance.now();
      await writeAll(conn, ping);
      assertEquals(await readExactly(conn, ping.length), ping);
      const elapsed = performance.now() - started;
      // A lower bound: a correctness property of the relay, not a claim about speed.
      assert(elapsed >= 50, `round trip ${round} took ${elapsed.toFixed(1)} ms, not ≥ 50 ms`);
    }
  } finally {
    conn.close();
  }
  await eventually("the connection to close", () => relay.open === 0);
  const [record] = relay.connections;
  assertEquals([relay.accepted, record?.bytesToTarget, record?.bytesFromTarget], [1, 12, 12]);
  assertEquals(record?.turns, 3);
  assertEquals(record?.turnTimes.length, 3);
  assert(
    record.turnTimes.every((t, i) => t >= record.openedAt && t >= (record.turnTimes[i - 1] ?? 0)),
  );
});

Deno.test("startTcpRelay() passes 8 MiB both ways intact, in order, and passes on a half-close", async () => {
  await using echo = startEchoServer();
  await using relay = startTcpRelay({
    target: { hostname: "127.0.0.1", port: echo.port },
    delayMs: 5,
  });
  const data = new Uint8Array(8 * 1024 * 1024);
  for (let at = 0; at < data.length; at += 65536) {
    crypto.getRandomValues(data.subarray(at, at + 65536));
  }
  const conn = await Deno.connect({ hostname: relay.hostname, port: relay.port });
  try {
    // The echo server answers until it reads the end of the stream, then half-closes: the
    // client only sees the end if the relay passed its own half-close on, both ways.
    const received = readAll(conn);
    await writeAll(conn, data);
    await conn.closeWrite();
    const back = await received;
    assertEquals(back.length, data.length);
    assert(back.every((byte, i) => byte === data[i]), "the bytes came back changed");
  } finally {
    conn.close();
  }
  await eventually("the connection to close", () => relay.open === 0);
  assertEquals(relay.connections[0]?.bytesToTarget, data.length);
  assertEquals(relay.connections[0]?.bytesFromTarget, data.length);
  assertEquals(relay.connections[0]?.error, undefined);
});

Deno.test("startTcpRelay() counts every connection it accepts, also ones the target refuses", async () => {
  await using echo = startEchoServer();
  await using relay = startTcpRelay({ target: { hostname: "127.0.0.1", port: echo.port } });
  for (let i = 0; i < 3; i++) {
    const conn = await Deno.connect({ hostname: relay.hostname, port: relay.port });
    await writeAll(conn, new Uint8Array([i]));
    assertEquals(await readExactly(conn, 1), new Uint8Array([i]));
    conn.close();
  }
  await eventually("three closed connections", () => relay.open === 0);
  assertEquals(relay.accepted, 3);
  assertEquals(relay.connections.map((c) => c.id), [1, 2, 3]);
  assert(relay.connections.every((c) => c.closedAt !== undefined && c.closedAt >= c.openedAt));

  // A target that is down: the client sees the connection end; the relay still counts it.
  const free = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const freePort = (free.addr as Deno.NetAddr).port;
  free.close();
  await using dead = startTcpRelay({ target: { hostname: "127.0.0.1", port: freePort } });
  const conn = await Deno.connect({ hostname: dead.hostname, port: dead.port });
  try {
    assertEquals((await readAll(conn).catch(() => new Uint8Array())).length, 0);
  } finally {
    conn.close();
  }
  await eventually("the refused connection to close", () => dead.open === 0);
  assertEquals(dead.accepted, 1);
  assert(dead.connections[0]?.error !== undefined, "the refusal is recorded");
});

Deno.test("startTcpRelay() close() leaves no listener and ends open connections", async () => {
  await using echo = startEchoServer();
  const relay = startTcpRelay({
    target: { hostname: "127.0.0.1", port: echo.port },
    delayMs: 10,
  });
  const port = relay.port;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(conn, new Uint8Array([1, 2, 3]));
    assertEquals(await readExactly(conn, 3), new Uint8Array([1, 2, 3]));
    assertEquals(relay.open, 1);
    await relay.close();
    await relay.close(); // a second close is a no-op
    assertEquals(relay.open, 0);
    // The client's connection was ended by the relay (end of stream or a reset).
    assertEquals((await readAll(conn).catch(() => new Uint8Array())).length, 0);
  } finally {
    conn.close();
  }
  await assertRejects(() => Deno.connect({ hostname: "127.0.0.1", port }));
  // The port is free again: nothing of the relay listens on it.
  const again = Deno.listen({ hostname: "127.0.0.1", port });
  again.close();
});

Deno.test("startTcpRelay() refuses a negative delay", () => {
  assertThrows(
    () => startTcpRelay({ target: { hostname: "127.0.0.1", port: 1 }, delayMs: -1 }),
    "Cannot start a TCP relay: toTarget delay -1 is not ≥ 0 ms",
  );
});
