// Who can decrypt what, from each file's metadata: every recipient (age, pgp, kms…) in one
// column named by the anchor `.sops.yaml` gives it anywhere in the file, or shown as unknown;
// with key groups, who reads alone and which groups together (sops.go,
// GetDataKeyWithKeyServices: `threshold` groups must each give their share).
import type { RepoState } from "./repo_state.ts";
import type { KeyGroup } from "./sops_metadata.ts";

/** A column of the access table: one recipient. */
export interface AccessColumn {
  /** The anchor name, `host <name>`, `unknown age1…`, `unknown pgp:<fp>` or `kms:<id>`. */
  name: string;
  kind: "anchor" | "host" | "user" | "unknown" | "pgp" | "other";
}

/** One file's row. */
export interface AccessRow {
  path: string;
  encrypted: boolean;
  /** Column → true when that recipient alone can decrypt the file. */
  access: Record<string, boolean>;
  /** Column → true when it holds a share of the data key but cannot decrypt alone. */
  share: Record<string, boolean>;
  /** The file's key groups as column names (one group when the file has no key_groups). */
  groups: string[][];
  /** Key groups needed to decrypt (1 without key groups). */
  threshold: number;
}

/** The access table. */
export interface AccessTable {
  columns: AccessColumn[];
  rows: AccessRow[];
}

/** A pgp fingerprint without its spaces, as sops keeps it (pgp/keysource.go, NewMasterKeyFromFingerprint); upper case to compare. */
function pgpId(fp: string): string {
  return `pgp:${fp.replace(/\s+/g, "").toUpperCase()}`;
}

function recipientId(value: string): string {
  return /^age1/.test(value) ? value : /^[0-9a-fA-F\s]{16,}$/.test(value) ? pgpId(value) : value;
}

/** Builds the access table; needs no keys and works on any `.sops.yaml`. */
export function accessTable(state: RepoState): AccessTable {
  const named = new Map<string, string>(); // recipient id → column name
  const columns: AccessColumn[] = [];
  const add = (name: string, kind: AccessColumn["kind"]) => {
    if (!columns.some((c) => c.name === name)) columns.push({ name, kind });
  };
  const anchored = [
    ...state.config.keys.map((k) => ({ anchor: k.anchor, value: k.value })),
    ...state.config.named,
  ];
  for (const { anchor, value } of anchored) {
    const ids = value.split(",").map((v) => v.trim()).filter(Boolean).map(recipientId);
    const fresh = ids.filter((id) => !named.has(id));
    if (fresh.length === 0) continue;
    const name = anchor ?? `(no anchor) ${value.slice(0, 16)}…`;
    add(name, anchor?.startsWith("user_") ? "user" : "anchor");
    for (const id of fresh) named.set(id, name);
  }
  for (const [host, r] of state.hostKeys) {
    if (named.has(r)) continue;
    named.set(r, `host ${host}`);
    add(`host ${host}`, "host");
  }
  const columnOf = (id: string): string => {
    const known = named.get(id);
    if (known !== undefined) return known;
    const name = id.startsWith("age1")
      ? `unknown ${id}`
      : id.startsWith("pgp:")
      ? `unknown ${id}`
      : id;
    add(name, id.startsWith("age1") || id.startsWith("pgp:") ? "unknown" : "other");
    return name;
  };
  const groupColumns = (g: KeyGroup) => [
    ...new Set([
      ...g.age.map(columnOf),
      ...g.pgp.map((fp) => columnOf(pgpId(fp))),
      ...g.other.map(columnOf),
    ]),
  ];
  const rows: AccessRow[] = state.files.map((f) => {
    const m = f.metadata;
    const groups = m === null ? [] : (m.groups ?? [m]).map(groupColumns);
    const threshold = m?.threshold ?? 1;
    const access: Record<string, boolean> = {};
    const share: Record<string, boolean> = {};
    for (const name of new Set(groups.flat())) {
      // One recipient in enough groups gives enough shares by itself.
      const alone = groups.filter((g) => g.includes(name)).length >= threshold;
      access[name] = alone;
      share[name] = !alone;
    }
    return { path: f.path, encrypted: m !== null, access, share, groups, threshold };
  });
  for (const row of rows) {
    for (const c of columns) {
      row.access[c.name] ??= false;
      row.share[c.name] ??= false;
    }
  }
  // Users are a group of their own, after admins and hosts, before keys no anchor names.
  const group = (c: AccessColumn) =>
    c.kind === "user" ? 1 : c.kind === "anchor" || c.kind === "host" ? 0 : 2;
  columns.sort((a, b) => group(a) - group(b));
  return { columns, rows };
}

/** What a cell says: `yes` (reads alone), `share` (only with other groups), `-` or `PLAIN`. */
function cell(row: AccessRow, column: string): string {
  if (!row.encrypted) return "PLAIN";
  return row.access[column] ? "yes" : row.share[column] ? "share" : "-";
}

/**
 * The access table as text: one line per file, each column as wide as its widest cell or
 * name; then, for each file with key groups, which groups it needs.
 */
export function formatAccess(table: AccessTable): string {
  const width = Math.max(4, ...table.rows.map((r) => r.path.length));
  const widths = table.columns.map((c) =>
    Math.max(c.name.length, ...table.rows.map((r) => cell(r, c.name).length))
  );
  // A bar before the users' group of columns.
  const bar = (c: AccessColumn, i: number) =>
    c.kind === "user" && table.columns[i - 1]?.kind !== "user" ? ["|"] : [];
  const header = [
    "file".padEnd(width),
    ...table.columns.flatMap((c, i) => [...bar(c, i), c.name.padEnd(widths[i]!)]),
  ].join("  ").trimEnd();
  const lines = table.rows.map((r) =>
    [
      r.path.padEnd(width),
      ...table.columns.flatMap((c, i) => [...bar(c, i), cell(r, c.name).padEnd(widths[i]!)]),
    ].join("  ").trimEnd()
  );
  const notes = table.rows.filter((r) => r.groups.length > 1).map((r) => {
    const alone = Object.keys(r.access).filter((name) => r.access[name]);
    return `${r.path}: key groups, ${r.threshold} of ${r.groups.length} needed: ${
      r.groups.map((g, i) => `group ${i + 1} (${g.join(", ") || "empty"})`).join(", ")
    }; ${alone.length > 0 ? `reads alone: ${alone.join(", ")}` : "no one reads it alone"}`;
  });
  return [header, ...lines, ...(notes.length > 0 ? ["", ...notes] : [])].join("\n");
}
