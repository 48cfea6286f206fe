// The one naming rule that turns a file's path into its index key.

/** Prefix of each module group folder; a folder not listed here uses its own name. */
export const GROUP_PREFIXES: Readonly<Record<string, string>> = {
  hardware: "hardware",
  mixins: "mixin",
  profiles: "profile",
  programs: "programs",
  services: "service",
  themes: "theme",
};

const NIX_KEYWORDS = new Set([
  "assert",
  "else",
  "if",
  "in",
  "inherit",
  "let",
  "or",
  "rec",
  "then",
  "with",
]);

/** The prefix for modules in `group` (e.g. `mixins` → `mixin`). */
export function groupPrefix(group: string): string {
  return GROUP_PREFIXES[group] ?? group;
}

/**
 * The key of a module `<group>/<stem>.nix` (or `<group>/<stem>/default.nix`): `<prefix>-<stem>`,
 * without doubling a prefix the file name already carries (`mixins/mixin-nix.nix` → `mixin-nix`).
 * A module directly in the index folder (no group) keeps its stem.
 */
export function moduleKey(group: string | undefined, stem: string): string {
  if (group === undefined) return stem;
  const prefix = groupPrefix(group);
  return stem.startsWith(`${prefix}-`) ? stem : `${prefix}-${stem}`;
}

/** True when `name` can stand unquoted as a Nix attribute name. */
export function isValidAttrName(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_'-]*$/.test(name) && !NIX_KEYWORDS.has(name);
}

/** True when `path` can be written as a Nix path literal (`./a/b-c.nix`). */
export function isValidPathLiteral(path: string): boolean {
  return /^[A-Za-z0-9._+\-/]+$/.test(path) && !path.includes("//");
}

const ALL_ATTR_NAMES = /^(?:[A-Za-z_][A-Za-z0-9_'-]*\/)*$/;
const ANY_KEYWORD = new RegExp(`(?:^|/)(?:${[...NIX_KEYWORDS].join("|")})/`);
const ALL_PATH_LITERALS = /^(?:[A-Za-z0-9._+\-/]+\0)*$/;

/**
 * True when every one of `names` is a valid attribute name: one regular expression over all of
 * them, for the index's thousands of keys in a cold process. The names must come from path
 * segments, which never hold `/`, the separator used here; false means look one by one.
 */
export function allValidAttrNames(names: readonly string[]): boolean {
  if (names.length === 0) return true;
  const joined = `${names.join("/")}/`;
  return ALL_ATTR_NAMES.test(joined) && !ANY_KEYWORD.test(joined);
}

/** True when every one of `paths` is a valid path literal (paths never hold NUL, the separator). */
export function allValidPathLiterals(paths: readonly string[]): boolean {
  if (paths.length === 0) return true;
  const joined = `${paths.join("\0")}\0`;
  return ALL_PATH_LITERALS.test(joined) && !joined.includes("//");
}
