// Pure planning of the eight index files from the list of files in the repository.
import { hostNameProblem, isHostName } from "../host_name.ts";
import {
  allValidAttrNames,
  allValidPathLiterals,
  isValidAttrName,
  isValidPathLiteral,
  moduleKey,
} from "./naming.ts";
import { type IndexEntry, type IndexGroup, renderIndex } from "./render.ts";
import { INDEX_SPECS, type IndexSpec } from "./specs.ts";

export { INDEX_SPECS, type IndexKind, type IndexSpec, SCANNED_FOLDERS } from "./specs.ts";

/** A generated index: where it goes, its text and what it names. */
export interface PlannedIndex {
  path: string;
  content: string;
  entries: IndexEntry[];
}

/** A layout no index can be made from (a name collision, an unusable name). */
export class IndexLayoutError extends Error {
  override name = "IndexLayoutError";
}

/** A path with a part that starts with `_` or `.`: drafts and tool files, never indexed. */
const HIDDEN = /(^|\/)[._]/;

/** Plans every index from `files`, the repository-relative paths of all files on disk. */
export function planIndexes(
  files: readonly string[],
  specs: readonly IndexSpec[] = INDEX_SPECS,
): PlannedIndex[] {
  const inFolders = filesByFolder(files, specs);
  return specs.map((spec) => {
    const groups = collectGroups(spec, inFolders.get(spec.folder) ?? []);
    checkEntries(spec, groups);
    return {
      path: spec.path,
      content: renderIndex(spec.folder, groups),
      entries: groups.length === 1 ? groups[0]!.entries : groups.flatMap((group) => group.entries),
    };
  });
}

/**
 * The visible files of each indexed folder, relative to it, in one pass over `files` that
 * allocates only what it keeps: the pre-commit hook plans thousands of paths in a process that
 * has just started, where every allocation and hash shows.
 */
function filesByFolder(
  files: readonly string[],
  specs: readonly IndexSpec[],
): Map<string, string[]> {
  const folders = [...new Set(specs.map((spec) => spec.folder))];
  const prefixes = folders.map((folder) => `${folder}/`);
  const lists = folders.map((): string[] => []);
  const indexFiles = new Set(specs.map((spec) => spec.path));
  // Git lists paths sorted, so a file is nearly always in the same folder as the one before.
  let last = -1;
  for (const file of files) {
    let i = last;
    if (i < 0 || !file.startsWith(prefixes[i]!)) {
      i = prefixes.findIndex((prefix) => file.startsWith(prefix));
      if (i < 0) continue;
      last = i;
    }
    const relative = file.slice(prefixes[i]!.length);
    const isIndexFile = !relative.includes("/") && indexFiles.has(file);
    if (!isIndexFile && !HIDDEN.test(relative)) lists[i]!.push(relative);
  }
  return new Map(folders.map((folder, i) => [folder, lists[i]!]));
}

function collectGroups(spec: IndexSpec, relatives: readonly string[]): IndexGroup[] {
  const source = (relative: string) => `${spec.folder}/${relative}`;
  switch (spec.kind) {
    case "hosts":
      return [{ title: spec.title, entries: hostEntries(relatives, "default.nix", false, source) }];
    case "disko":
      return [{ title: spec.title, entries: hostEntries(relatives, "disko.nix", true, source) }];
    case "shells":
      return [{ title: spec.title, entries: hostEntries(relatives, "shell.nix", true, source) }];
    case "devshells":
      return [{ title: spec.title, entries: hostEntries(relatives, "devshell.nix", true, source) }];
    case "modules":
      return moduleGroups(spec.title, relatives, source);
  }
}

/** `<name>/<file>` entries keyed by `<name>`; the value is the folder or the file. */
function hostEntries(
  relatives: readonly string[],
  file: string,
  pointAtFile: boolean,
  source: (relative: string) => string,
): IndexEntry[] {
  const entries: IndexEntry[] = [];
  for (const relative of relatives) {
    // `<name>/<file>` exactly: one slash, then the file name.
    const slash = relative.indexOf("/");
    if (slash < 0 || relative.length - slash - 1 !== file.length || !relative.endsWith(file)) {
      continue;
    }
    const name = relative.slice(0, slash);
    entries.push({ key: name, path: pointAtFile ? relative : name, source: source(relative) });
  }
  return entries;
}

/**
 * Module entries: `<stem>.nix` in the folder itself, `<group>/<stem>.nix`, and module folders
 * (`<dir>/default.nix`, `<group>/<dir>/default.nix`) whose other files are the module's own.
 */
function moduleGroups(
  topTitle: string,
  relatives: readonly string[],
  source: (relative: string) => string,
): IndexGroup[] {
  const nixFiles = relatives.filter((relative) => relative.endsWith(".nix"));
  const moduleFolders = new Set(
    nixFiles
      .filter((relative) => relative.endsWith("/default.nix"))
      .map((relative) => relative.slice(0, -"/default.nix".length)),
  );
  const insideModuleFolder = (relative: string) => {
    if (moduleFolders.size === 0) return false;
    const isDefault = relative.endsWith("/default.nix");
    // The folders above the file; a default.nix belongs to its own folder, not inside it.
    let folder = relative.slice(0, relative.lastIndexOf("/"));
    if (isDefault) folder = folder.slice(0, Math.max(0, folder.lastIndexOf("/")));
    while (folder.length > 0) {
      if (moduleFolders.has(folder)) return true;
      const slash = folder.lastIndexOf("/");
      folder = slash < 0 ? "" : folder.slice(0, slash);
    }
    return false;
  };

  const groups = new Map<string, IndexEntry[]>();
  const add = (title: string, entry: IndexEntry) => {
    const list = groups.get(title) ?? [];
    list.push(entry);
    groups.set(title, list);
  };
  for (const relative of nixFiles) {
    if (insideModuleFolder(relative)) continue;
    const isFolder = relative.endsWith("/default.nix");
    const path = isFolder ? relative.slice(0, -"/default.nix".length) : relative;
    const slash = path.indexOf("/");
    if (slash < 0) {
      const stem = stemOf(path);
      add(topTitle, { key: moduleKey(undefined, stem), path, source: source(relative) });
    } else if (path.indexOf("/", slash + 1) < 0) {
      const group = path.slice(0, slash);
      const stem = stemOf(path.slice(slash + 1));
      add(group, { key: moduleKey(group, stem), path, source: source(relative) });
    }
    // Deeper files that are not part of a module folder are helpers, imported by hand.
  }
  return [...groups].map(([title, entries]) => ({ title, entries }));
}

/** A module's name before its key prefix: the file or folder name without `.nix`. */
function stemOf(name: string): string {
  return name.endsWith(".nix") ? name.slice(0, -".nix".length) : name;
}

function checkEntries(spec: IndexSpec, groups: readonly IndexGroup[]): void {
  const entries = groups.length === 1 ? groups[0]!.entries : groups.flatMap((g) => g.entries);
  // The common case in one pass each: every name and path valid, no name twice. Only when
  // that fails, entry by entry, to name the file at fault.
  const keys = entries.map((entry) => entry.key);
  const valid = allValidAttrNames(keys) &&
    allValidPathLiterals(entries.map((entry) => entry.path)) &&
    new Set(keys).size === keys.length &&
    (spec.folder !== "configurations" || keys.every(isHostName));
  if (valid) return;
  const seen = new Map<string, IndexEntry>();
  for (const entry of entries) checkEntry(spec, entry, seen);
}

function checkEntry(spec: IndexSpec, entry: IndexEntry, seen: Map<string, IndexEntry>): void {
  if (spec.folder === "configurations" && !isHostName(entry.key)) {
    throw new IndexLayoutError(
      `Cannot index "${entry.source}" in ${spec.path}: ${
        hostNameProblem(entry.key)
      }; rename the folder`,
    );
  }
  if (!isValidAttrName(entry.key)) {
    throw new IndexLayoutError(
      `Cannot index "${entry.source}" in ${spec.path}: "${entry.key}" is not a valid Nix attribute name; rename the file`,
    );
  }
  if (!isValidPathLiteral(entry.path)) {
    throw new IndexLayoutError(
      `Cannot index "${entry.source}" in ${spec.path}: its path has characters a Nix path cannot hold; rename the file`,
    );
  }
  const earlier = seen.get(entry.key);
  if (earlier !== undefined) {
    throw new IndexLayoutError(
      `Cannot index ${spec.path}: "${earlier.source}" and "${entry.source}" both get the name "${entry.key}"; rename one of them`,
    );
  }
  seen.set(entry.key, entry);
}
