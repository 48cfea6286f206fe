// Pure planning of the eight index files from the list of files in the repository.
import { hostNameProblem, isHostName } from "../lib/host_name.ts";
import { isValidAttrName, isValidPathLiteral, moduleKey } from "./naming.ts";
import { type IndexEntry, type IndexGroup, renderIndex } from "./render.ts";

/** How an index finds its entries. */
export type IndexKind = "modules" | "hosts" | "disko" | "shells" | "devshells";

/** One generated index file. */
export interface IndexSpec {
  /** The index file, relative to the repository root. */
  path: string;
  /** The folder it indexes; entries are relative to it. */
  folder: string;
  kind: IndexKind;
  /** Comment over entries that sit directly in the folder. */
  title: string;
}

/** The eight index files and what each one lists. */
export const INDEX_SPECS: readonly IndexSpec[] = [
  {
    path: "configurations/nixos-configurations.nix",
    folder: "configurations",
    kind: "hosts",
    title: "hosts",
  },
  {
    path: "configurations/disko-configurations.nix",
    folder: "configurations",
    kind: "disko",
    title: "disko configurations",
  },
  {
    path: "modules/nixos/nixos-modules.nix",
    folder: "modules/nixos",
    kind: "modules",
    title: "modules",
  },
  {
    path: "modules/home/home-modules.nix",
    folder: "modules/home",
    kind: "modules",
    title: "modules",
  },
  {
    path: "modules/shared/shared-modules.nix",
    folder: "modules/shared",
    kind: "modules",
    title: "modules",
  },
  { path: "overlays/overlays.nix", folder: "overlays", kind: "modules", title: "overlays" },
  { path: "shells/shells.nix", folder: "shells", kind: "shells", title: "shells" },
  {
    path: "shells/numtide-devshells.nix",
    folder: "shells",
    kind: "devshells",
    title: "numtide devshells",
  },
];

/** The folders whose files the plan needs. */
export const SCANNED_FOLDERS = ["configurations", "modules", "overlays", "shells"] as const;

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
  const visible = files.filter((file) => !HIDDEN.test(file));
  return specs.map((spec) => {
    const prefix = `${spec.folder}/`;
    const inFolder: string[] = [];
    for (const file of visible) {
      if (file.startsWith(prefix) && file !== spec.path) inFolder.push(file.slice(prefix.length));
    }
    const groups = collectGroups(spec, inFolder);
    checkEntries(spec, groups);
    return {
      path: spec.path,
      content: renderIndex(spec.folder, groups),
      entries: groups.flatMap((group) => group.entries),
    };
  });
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
    const parts = relative.split("/");
    if (parts.length !== 2 || parts[1] !== file) continue;
    const name = parts[0]!;
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
    const parts = path.split("/");
    const stem = parts.at(-1)!.replace(/\.nix$/, "");
    if (parts.length === 1) {
      add(topTitle, { key: moduleKey(undefined, stem), path, source: source(relative) });
    } else if (parts.length === 2) {
      const group = parts[0]!;
      add(group, { key: moduleKey(group, stem), path, source: source(relative) });
    }
    // Deeper files that are not part of a module folder are helpers, imported by hand.
  }
  return [...groups].map(([title, entries]) => ({ title, entries }));
}

function checkEntries(spec: IndexSpec, groups: readonly IndexGroup[]): void {
  const seen = new Map<string, IndexEntry>();
  for (const entry of groups.flatMap((group) => group.entries)) {
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
}
