// Reading a sops file's recipients from its metadata, without decrypting anything. sops writes
// the metadata in the file's own format: a `sops:` map in YAML and JSON (binary files are JSON
// too), a `[sops]` section in INI, `sops_*` lines in dotenv. The format is found from the
// content, not the name, so an encrypted file is never taken for plaintext.
import YAML from "yaml";

/** Who a sops file is encrypted for. */
export interface SopsRecipients {
  age: string[];
  /** PGP fingerprints. */
  pgp: string[];
  /** KMS, GCP KMS, Azure Key Vault and Vault transit keys, as `kind:id`. */
  other: string[];
  /**
   * The key groups, when the file has more than one (`key_groups` in its metadata): each holds
   * one share of the data key, and `threshold` of them are needed (sops.go,
   * GetDataKeyWithKeyServices). Absent: one group, any recipient decrypts alone.
   */
  groups?: KeyGroup[];
  threshold?: number;
}

/** One key group of a file's metadata. */
export interface KeyGroup {
  age: string[];
  pgp: string[];
  other: string[];
}

/** Groups needed: `shamir_threshold`, or all of them when it is 0 or absent (as sops). */
function thresholdOf(value: unknown, groups: number): number {
  const n = Number(value ?? 0);
  return Number.isInteger(n) && n > 0 ? Math.min(n, groups) : groups;
}

const OTHER_KINDS = ["kms", "gcp_kms", "azure_kv", "hc_vault"] as const;

/** The recipients of a sops file, or null when it holds no sops metadata in any format. */
export function readSopsMetadata(text: string): SopsRecipients | null {
  return fromSopsYaml(text) ?? fromTree(text) ?? fromFlat(text);
}

const SECTION_KINDS = ["age", "pgp", ...OTHER_KINDS] as const;

/**
 * The fast path for the YAML sops writes (a block `sops:` map at the end, one key a line):
 * a line scan, about 20 times faster than a YAML parse of the whole file, which matters at
 * hundreds of files. Anything else falls through to the full parse.
 */
function fromSopsYaml(text: string): SopsRecipients | null {
  const start = text.search(/^sops:[ \t]*\r?$/m);
  if (start < 0) return null;
  const out: SopsRecipients = { age: [], pgp: [], other: [] };
  let section = "";
  let mac = false;
  for (const line of text.slice(start).split("\n").slice(1)) {
    if (line.trim() === "") continue;
    if (!/^\s/.test(line)) break; // the next top-level key
    const m = line.match(/^\s*(?:-\s+)?([a-z_]+):\s*(.*?)\s*$/);
    if (!m) continue;
    const [, key, value] = m as unknown as [string, string, string];
    // Key groups need the structure: the full parse reads them.
    if (key === "key_groups" && value !== "[]") return null;
    if ((SECTION_KINDS as readonly string[]).includes(key) && value === "") section = key;
    else if (key === "mac" && value !== "") mac = true;
    else if (section === "age" && key === "recipient") out.age.push(unquote(value));
    else if (section === "pgp" && key === "fp") out.pgp.push(unquote(value));
    else if (
      (OTHER_KINDS as readonly string[]).includes(section) &&
      /^(arn|resource_id|vault_url|vault_address)$/.test(key)
    ) out.other.push(`${section}:${unquote(value)}`);
    else if (/^(lastmodified|version|unencrypted_suffix|key_groups|shamir_threshold)$/.test(key)) {
      section = "";
    }
  }
  return mac ? out : null;
}

function unquote(value: string): string {
  return value.replace(/^(["'])(.*)\1$/, "$2");
}

/** The age recipients of a sops file, or null when it has no sops metadata. */
export function readSopsRecipients(text: string): string[] | null {
  return readSopsMetadata(text)?.age ?? null;
}

function fromTree(text: string): SopsRecipients | null {
  let data: unknown;
  try {
    data = YAML.parse(text, { maxAliasCount: 100, uniqueKeys: false, logLevel: "error" });
  } catch {
    return null;
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) return null;
  const sops = (data as Record<string, unknown>).sops;
  if (typeof sops !== "object" || sops === null || !("mac" in sops)) return null;
  const out: SopsRecipients = { age: [], pgp: [], other: [] };
  const collect = (holder: unknown, into: KeyGroup) => {
    const h = holder as Record<string, unknown> | null;
    for (const entry of list(h?.age)) {
      const recipient = (entry as { recipient?: unknown } | null)?.recipient;
      if (typeof recipient === "string") into.age.push(recipient);
    }
    for (const entry of list(h?.pgp)) {
      const fp = (entry as { fp?: unknown } | null)?.fp;
      if (typeof fp === "string") into.pgp.push(fp);
    }
    for (const kind of OTHER_KINDS) {
      for (const entry of list(h?.[kind])) {
        const e = entry as Record<string, unknown> | null;
        const id = e?.arn ?? e?.resource_id ?? e?.vault_url ?? e?.vault_address ?? "?";
        into.other.push(`${kind}:${String(id)}`);
      }
    }
  };
  collect(sops, out);
  const groups = list((sops as { key_groups?: unknown }).key_groups).map((group) => {
    const g: KeyGroup = { age: [], pgp: [], other: [] };
    collect(group, g);
    out.age.push(...g.age);
    out.pgp.push(...g.pgp);
    out.other.push(...g.other);
    return g;
  });
  if (groups.length > 1) {
    out.groups = groups;
    out.threshold = thresholdOf(
      (sops as { shamir_threshold?: unknown }).shamir_threshold,
      groups.length,
    );
  }
  return out;
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** INI (`[sops]` then `age__list_0__map_recipient = …`) and dotenv (`sops_age__list_…=…`). */
function fromFlat(text: string): SopsRecipients | null {
  const entries = new Map<string, string>();
  let section = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const header = line.match(/^\[(.*)\]$/);
    if (header) {
      section = header[1]!.trim();
      continue;
    }
    const pair = line.match(/^([^=#;]+?)\s*=\s*(.*)$/);
    if (!pair) continue;
    const key = pair[1]!.trim();
    if (section === "sops") entries.set(key, pair[2]!);
    else if (section === "" && key.startsWith("sops_")) entries.set(key.slice(5), pair[2]!);
  }
  if (!entries.has("mac")) return null;
  const out: SopsRecipients = { age: [], pgp: [], other: [] };
  const groups: KeyGroup[] = [];
  for (const [key, value] of entries) {
    const m = key.match(/^(?:key_groups__list_(\d+)__map_)?(\w+?)__list_\d+__map_(\w+)$/);
    if (!m) continue;
    const [, groupIndex, kind, field] = m;
    const into: KeyGroup[] = [out];
    if (groupIndex !== undefined) {
      const i = Number(groupIndex);
      while (groups.length <= i) groups.push({ age: [], pgp: [], other: [] });
      into.push(groups[i]!);
    }
    for (const g of into) {
      if (kind === "age" && field === "recipient") g.age.push(value);
      else if (kind === "pgp" && field === "fp") g.pgp.push(value);
      else if (
        (OTHER_KINDS as readonly string[]).includes(kind!) &&
        /^(arn|resource_id|vault_url|vault_address)$/.test(field!)
      ) {
        g.other.push(`${kind}:${value}`);
      }
    }
  }
  if (groups.length > 1) {
    out.groups = groups;
    out.threshold = thresholdOf(entries.get("shamir_threshold"), groups.length);
  }
  return out;
}
