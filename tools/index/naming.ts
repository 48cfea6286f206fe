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
