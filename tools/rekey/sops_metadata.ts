// Reading a sops file's recipients from its metadata, without decrypting anything.
import YAML from "yaml";

/** The age recipients of a sops file, or null when it has no sops metadata. */
export function readSopsRecipients(text: string, path: string): string[] | null {
  if (/\.(env|ini)$/.test(path)) {
    if (!/^\[?sops\]?|^sops_mac\s*=/m.test(text) || !/sops_?mac/.test(text)) return null;
    return [...text.matchAll(/^sops_age__list_\d+__map_recipient\s*=\s*(\S+)/gm)].map((m) => m[1]!);
  }
  let data: unknown;
  try {
    data = path.endsWith(".json") ? JSON.parse(text) : YAML.parse(text);
  } catch {
    return null;
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) return null;
  const sops = (data as Record<string, unknown>).sops;
  if (typeof sops !== "object" || sops === null || !("mac" in sops)) return null;
  const recipients: string[] = [];
  const collect = (holder: unknown) => {
    const age = (holder as { age?: unknown } | null)?.age;
    if (!Array.isArray(age)) return;
    for (const entry of age) {
      const recipient = (entry as { recipient?: unknown } | null)?.recipient;
      if (typeof recipient === "string") recipients.push(recipient);
    }
  };
  collect(sops);
  const groups = (sops as { key_groups?: unknown }).key_groups;
  if (Array.isArray(groups)) groups.forEach(collect);
  return recipients;
}
