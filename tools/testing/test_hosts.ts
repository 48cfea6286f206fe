// Test hosts for tests: the harness lives in tools/lib/test_hosts.ts, where `deno task demo`
// uses it too.
export * from "../lib/test_hosts.ts";
