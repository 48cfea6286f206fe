// The index domain as a library: the naming rule, the eight index files and their plan, and
// regenerating them in a repository. The index tool and `host new` are built on it. Only
// regenerate.ts and specs.ts load eagerly: the planner is imported when git has listed files.
export * from "./regenerate.ts";
export * from "./specs.ts";
export type { PlannedIndex } from "./plan.ts";
