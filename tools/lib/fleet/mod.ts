// The fleet as a library: the inventory (host facts, each host's files and pinned key, the
// checks of addresses, ports and ssh options), one pinned SSH connection (known_hosts keyed by
// host name, the shared master connection, typed failures) and the remote protocol. deploy and
// install are built on it; a new tool that talks to hosts imports this file only.
export * from "./keys.ts";
export * from "./known_hosts.ts";
export * from "./inventory.ts";
export * from "./facts.ts";
export * from "./ssh.ts";
export * from "./connect.ts";
export * from "./remote.ts";
