// Who can decrypt what, from each file's metadata: every recipient, under whatever anchor name
// `.sops.yaml` gives it, and the ones it does not name at all.
import type { RepoState } from "./repo_state.ts";

/** A column of the access table. */
export interface AccessColumn {
  /** The anchor name, `unknown age1…`, `pgp:<fp>` or `kms:<id>`. */
  name: string;
  kind: "anchor" | "host" | "user" | "unknown" | "pgp" | "other";
}

/** The access table. */
export interface AccessTable {
  columns: AccessColumn[];
  rows: { path: string; encrypted: boolean; access: Record<string, boolean> }[];
}

/** Builds the access table; needs no keys and works on any `.sops.yaml`. */
export function accessTable(state: RepoState): AccessTable {
  const named = new Map<string, string>(); // recipient → column name
  const columns: AccessColumn[] = [];
  for (const key of state.config.keys) {
    const name = key.anchor ?? `(no anchor) ${key.value.slice(0, 16)}…`;
    if (columns.some((c) => c.name === name)) continue;
    columns.push({ name, kind: key.anchor?.startsWith("user_") ? "user" : "anchor" });
    for (const r of key.value.split(",").map((v) => v.trim()).filter(Boolean)) {
      if (!named.has(r)) named.set(r, name);
    }
  }
  for (const [host, r] of state.hostKeys) {
    if (named.has(r)) continue;
    named.set(r, `host ${host}`);
    columns.push({ name: `host ${host}`, kind: "host" });
  }
  const extra = (name: string, kind: AccessColumn["kind"]) => {
    if (!columns.some((c) => c.name === name)) columns.push({ name, kind });
    return name;
  };
  const rows = state.files.map((f) => {
    const access: Record<string, boolean> = Object.fromEntries(columns.map((c) => [c.name, false]));
    for (const r of f.metadata?.age ?? []) {
      access[named.get(r) ?? extra(`unknown ${r}`, "unknown")] = true;
    }
    for (const fp of f.metadata?.pgp ?? []) access[extra(`pgp:${fp}`, "pgp")] = true;
    for (const id of f.metadata?.other ?? []) access[extra(id, "other")] = true;
    return { path: f.path, encrypted: f.metadata !== null, access };
  });
  for (const row of rows) for (const c of columns) row.access[c.name] ??= false;
  // Users are a group of their own, after admins and hosts, before keys no anchor names.
  const group = (c: AccessColumn) =>
    c.kind === "user" ? 1 : c.kind === "anchor" || c.kind === "host" ? 0 : 2;
  columns.sort((a, b) => group(a) - group(b));
  return { columns, rows };
}

/** The access table as text: one line per file, then a legend of long column names. */
export function formatAccess(table: AccessTable): string {
  const width = Math.max(4, ...table.rows.map((r) => r.path.length));
  // A bar before the users' group of columns.
  const bar = (c: AccessColumn, i: number) =>
    c.kind === "user" && table.columns[i - 1]?.kind !== "user" ? ["|"] : [];
  const header = [
    "file".padEnd(width),
    ...table.columns.flatMap((c, i) => [...bar(c, i), c.name]),
  ].join("  ");
  const lines = table.rows.map((r) =>
    [
      r.path.padEnd(width),
      ...table.columns.flatMap((c, i) => [
        ...bar(c, i),
        (!r.encrypted ? "PLAIN" : r.access[c.name] ? "yes" : "-").padEnd(c.name.length),
      ]),
    ].join("  ").trimEnd()
  );
  return [header, ...lines].join("\n");
}
