// The test harness: assertions, temporary repositories, fixture flakes, test hosts, HTTP server,
// and running a task as users do.
export * from "./assert.ts";
export * from "./temp_repo.ts";
export * from "./fixture_flake.ts";
export * from "./test_hosts.ts";
export * from "./http_server.ts";
export * from "./task.ts";
