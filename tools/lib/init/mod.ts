// `deno task init` as a library: the pure plan that makes the repository its new owner's.
export * from "./plan.ts";
