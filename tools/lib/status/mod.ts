// The status of fleet hosts as a library: the plan (which hosts, one ssh command each, the
// --eval of their toplevels), the verdict (the status script's answer read into a typed status
// per host, its problems and one-line verdict) and the table. `deno task status` is its CLI.
export * from "./plan.ts";
export * from "./verdict.ts";
export * from "./table.ts";
