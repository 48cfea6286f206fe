import { assertEquals } from "../testing/assert.ts";
import { mapPool } from "./pool.ts";

Deno.test("mapPool() bounds concurrency and keeps order", async () => {
  let running = 0;
  let peak = 0;
  const results = await mapPool([1, 2, 3, 4, 5], 2, async (n) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, 5));
    running--;
    return n * 2;
  });
  assertEquals(peak, 2);
  assertEquals(results.map((r) => r.ok && "value" in r ? r.value : null), [2, 4, 6, 8, 10]);
});

Deno.test("mapPool() with stopOnError starts no new items after a failure", async () => {
  const started: number[] = [];
  const results = await mapPool([1, 2, 3], 1, (n) => {
    started.push(n);
    return n === 1 ? Promise.reject(new Error("boom")) : Promise.resolve(n);
  }, { stopOnError: true });
  assertEquals(started, [1]);
  assertEquals(results.map((r) => r.ok), [false, false, false]);
});
