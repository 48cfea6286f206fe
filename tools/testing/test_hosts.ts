// Test hosts for tests: the local hosts of tools/lib/local_hosts.ts (a product module: `deno task
// demo` runs them too) and the helpers only tests use.
import { startTestHosts, type TestHosts, type TestHostsOptions } from "../lib/local_hosts.ts";

export * from "../lib/local_hosts.ts";

/** Runs `fn` with `count` fresh test hosts and removes them afterwards, even when `fn` throws. */
export async function withTestHosts<T>(
  count: number,
  fn: (hosts: TestHosts) => Promise<T>,
  options: TestHostsOptions = {},
): Promise<T> {
  await using hosts = await startTestHosts(count, options);
  return await fn(hosts);
}
