// The index tool's planning as a library: the index files a layout implies, for other tools that
// change the layout (init removes the example hosts and writes the indexes in the same run).
export { INDEX_SPECS, planIndexes, type PlannedIndex, SCANNED_FOLDERS } from "./plan.ts";
export { walkFolders } from "./scan.ts";
