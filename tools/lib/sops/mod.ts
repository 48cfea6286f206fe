// The secrets domain as a library: age keys from SSH keys, `.sops.yaml` reading and editing,
// sops metadata, the rekey plan, the plans of the key commands, the journal, the lock and the
// executor. The `secrets` tool (and `deno task rekey`, one of its commands) is built on it.
export * from "./age_keys.ts";
export * from "./sops_yaml.ts";
export * from "./sops_metadata.ts";
export * from "./re2.ts";
export * from "./repo_state.ts";
export * from "./plan.ts";
export * from "./operations.ts";
export * from "./users.ts";
export * from "./user_operations.ts";
export * from "./access.ts";
export * from "./executor.ts";
export * from "./journal.ts";
export * from "./recovery.ts";
export * from "./lock.ts";
export * from "./sops_cli.ts";
export * from "./change.ts";
