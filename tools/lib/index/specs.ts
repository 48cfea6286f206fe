// The eight index files and the folders they list: all the index tool needs before it plans.

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
