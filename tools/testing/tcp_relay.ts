// A TCP relay on loopback that adds a one-way delay to each direction, so a benchmark against
// test hosts on this machine sees round trips like a network's. It counts the connections it
// accepts and the request/response turns on each. Imported by tests and benchmarks only; it
// changes nothing in the system's network settings.

/** Options for {@linkcode startTcpRelay}. */
export interface TcpRelayOptions {
  /** Where each accepted connection is forwarded (e.g. a test host's sshd). */
  target: { hostname: string; port: number };
  /** Milliseconds added to each direction (default 0); the ones below override it. */
  delayMs?: number;
  /** Milliseconds added to bytes going from the client to the target. */
  toTargetDelayMs?: number;
  /** Milliseconds added to bytes going from the target back to the client. */
  fromTargetDelayMs?: number;
  /** Address to listen on (default 127.0.0.1). */
  hostname?: string;
  /** Port to listen on (default 0: a free one). */
  port?: number;
}

/** What the relay saw of one connection. */
export interface RelayConnection {
  /** 1 for the first connection accepted, and so on. */
  readonly id: number;
  /** `performance.now()` when it was accepted. */
  readonly openedAt: number;
  /** `performance.now()` when both directions ended; undefined while open. */
  closedAt: number | undefined;
  bytesToTarget: number;
  bytesFromTarget: number;
  /**
   * Times the flow turned from client→target to target→client: the request/response
   * exchanges, each of which costs a round trip on a real network.
   */
  turns: number;
  /** `performance.now()` of each turn: when the target's answer reached the relay. */
  turnTimes: number[];
  /** Why it ended early (the target refused, a reset), if it did. */
  error: string | undefined;
}

/** A running relay; dispose it to close the listener and every connection. */
export interface TcpRelay extends AsyncDisposable {
  readonly hostname: string;
  readonly port: number;
  readonly toTargetDelayMs: number;
  readonly fromTargetDelayMs: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Connections not closed yet. */
  readonly open: number;
  /** Every connection accepted so far, oldest first (live records). */
  readonly connections: readonly RelayConnection[];
  /** Stops accepting, closes every connection and waits for them; safe to call twice. */
  close(): Promise<void>;
}

/** Bytes read but not yet written, per direction, before the relay stops reading. */
const MAX_BUFFERED = 4 * 1024 * 1024;
const CHUNK = 64 * 1024;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Waits until `performance.now() >= due`: never early, whatever the timer's rounding. */
async function sleepUntil(due: number): Promise<void> {
  for (let left = due - performance.now(); left > 0; left = due - performance.now()) {
    await sleep(Math.ceil(left));
  }
}

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  for (let done = 0; done < data.length;) done += await conn.write(data.subarray(done));
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // Closed already.
  }
}

/** Starts a relay in front of `options.target`; use `await using` or call `close()`. */
export function startTcpRelay(options: TcpRelayOptions): TcpRelay {
  const toTargetDelayMs = options.toTargetDelayMs ?? options.delayMs ?? 0;
  const fromTargetDelayMs = options.fromTargetDelayMs ?? options.delayMs ?? 0;
  for (const [name, value] of [["toTarget", toTargetDelayMs], ["fromTarget", fromTargetDelayMs]]) {
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
      throw new Error(`Cannot start a TCP relay: ${name} delay ${value} is not ≥ 0 ms`);
    }
  }
  const listener = Deno.listen({
    hostname: options.hostname ?? "127.0.0.1",
    port: options.port ?? 0,
    transport: "tcp",
  });
  const address = listener.addr as Deno.NetAddr;
  const connections: RelayConnection[] = [];
  const live = new Set<{ abort: () => void; done: Promise<void> }>();
  let closing = false;

  function relay(client: Deno.TcpConn, record: RelayConnection): void {
    let target: Deno.TcpConn | undefined;
    let aborted = false;
    const abort = (why?: unknown) => {
      if (!aborted && why !== undefined && record.error === undefined && !closing) {
        record.error = why instanceof Error ? why.message : String(why);
      }
      aborted = true;
      closeQuietly(client);
      if (target) closeQuietly(target);
    };
    const entry = { abort: () => abort(), done: Promise.resolve() };
    live.add(entry);
    let last: "to" | "from" | undefined;
    // One direction: read, and write each chunk `delay` ms after it arrived, in order; the
    // end of the stream (a half-close) is passed on with the same delay.
    const pump = async (
      from: Deno.TcpConn,
      to: Deno.TcpConn,
      delay: number,
      direction: "to" | "from",
    ) => {
      let chain = Promise.resolve();
      let buffered = 0;
      try {
        while (!aborted) {
          if (buffered > MAX_BUFFERED) await chain;
          const buffer = new Uint8Array(CHUNK);
          const read = await from.read(buffer);
          const due = performance.now() + delay;
          if (read === null) {
            chain = chain.then(() => sleepUntil(due)).then(() => to.closeWrite());
            break;
          }
          const data = buffer.subarray(0, read);
          if (direction === "to") record.bytesToTarget += read;
          else record.bytesFromTarget += read;
          if (direction === "from" && last === "to") {
            record.turns++;
            record.turnTimes.push(due - delay);
          }
          last = direction;
          buffered += read;
          chain = chain.then(() => sleepUntil(due)).then(() => writeAll(to, data)).then(() => {
            buffered -= read;
          });
        }
        await chain;
      } catch (error) {
        abort(error);
        await chain.catch(() => {});
      }
    };
    entry.done = (async () => {
      try {
        // The handshake of a real network: the target hears of the connection one way later,
        // and the client's first bytes cannot reach it before the round trip completes.
        const accepted = performance.now();
        await sleepUntil(accepted + toTargetDelayMs);
        if (aborted) return;
        target = await Deno.connect({
          hostname: options.target.hostname,
          port: options.target.port,
          transport: "tcp",
        });
        if (aborted) return;
        client.setNoDelay(true);
        target.setNoDelay(true);
        await Promise.all([
          pump(client, target, toTargetDelayMs, "to"),
          pump(target, client, fromTargetDelayMs, "from"),
        ]);
      } catch (error) {
        abort(error);
      } finally {
        abort();
        record.closedAt = performance.now();
        live.delete(entry);
      }
    })();
  }

  const acceptLoop = (async () => {
    while (true) {
      let client: Deno.TcpConn;
      try {
        client = await listener.accept() as Deno.TcpConn;
      } catch {
        return; // The listener was closed.
      }
      if (closing) {
        closeQuietly(client);
        continue;
      }
      const record: RelayConnection = {
        id: connections.length + 1,
        openedAt: performance.now(),
        closedAt: undefined,
        bytesToTarget: 0,
        bytesFromTarget: 0,
        turns: 0,
        turnTimes: [],
        error: undefined,
      };
      connections.push(record);
      relay(client, record);
    }
  })();

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      closing = true;
      try {
        listener.close();
      } catch {
        // Closed already.
      }
      await acceptLoop;
      for (const entry of live) entry.abort();
      await Promise.all([...live].map((entry) => entry.done));
    })();
    return closed;
  };

  return {
    hostname: address.hostname,
    port: address.port,
    toTargetDelayMs,
    fromTargetDelayMs,
    get accepted() {
      return connections.length;
    },
    get open() {
      return connections.filter((c) => c.closedAt === undefined).length;
    },
    connections,
    close,
    [Symbol.asyncDispose]: close,
  };
}
