// Running async work over a list with a bound on how many run at once.

/** Options for {@linkcode mapPool}. */
export interface PoolOptions {
  /** Stop starting new items once one has failed (running ones finish). Default false. */
  stopOnError?: boolean;
}

/** One item's outcome. */
export type PoolResult<R> = { ok: true; value: R } | { ok: false; error: unknown } | {
  ok: false;
  skipped: true;
};

/** Runs `fn` over `items`, at most `limit` at a time; never rejects, returns each outcome. */
export async function mapPool<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  options: PoolOptions = {},
): Promise<PoolResult<R>[]> {
  const results: PoolResult<R>[] = items.map(() => ({ ok: false, skipped: true }));
  let next = 0;
  let failed = false;
  async function worker() {
    while (next < items.length) {
      if (failed && options.stopOnError) return;
      const index = next++;
      try {
        results[index] = { ok: true, value: await fn(items[index]!, index) };
      } catch (error) {
        failed = true;
        results[index] = { ok: false, error };
      }
    }
  }
  const workers = Math.max(1, Math.min(limit, items.length));
  await Promise.all(Array.from({ length: workers }, worker));
  return results;
}
