// Reading `.sops.yaml` and editing only the parts rekey owns, splicing text so the rest stays byte-for-byte.
import YAML from "yaml";
import { re2ToRegExp } from "./re2.ts";

/**
 * Kinds of key the tool writes anchors for, by prefix: `&admin_<name>`, `&host_<name>`,
 * `&user_<name>` (people who read only their own files, see users.ts).
 */
export const ANCHOR_KINDS = ["admin", "host", "user"] as const;

/** A kind of key. */
export type AnchorKind = typeof ANCHOR_KINDS[number];

/** The kind an anchor name declares by its prefix, or undefined for a name the tool does not own. */
export function anchorKind(anchor: string | undefined): AnchorKind | undefined {
  return ANCHOR_KINDS.find((kind) => anchor?.startsWith(`${kind}_`));
}

/** One entry of the top-level `keys:` list. */
export interface KeyEntry {
  anchor: string | undefined;
  value: string;
  /** Offsets of the value (after the anchor). */
  valueStart: number;
  valueEnd: number;
  /** Offsets of the whole line(s) of the item, `-` to newline. */
  lineStart: number;
  lineEnd: number;
  /** 1-based line number, for messages. */
  line: number;
}

/** One creation rule. */
export interface RuleEntry {
  index: number;
  /** 1-based line number of the rule, for messages. */
  line: number;
  pathRegex: string | undefined;
  /** Age recipients of every key group (aliases resolved). */
  ageRecipients: string[];
  /** True when the rule uses other key types too (pgp, kms, …): only age is compared. */
  otherKeyTypes: boolean;
  /** Anchor names the rule's age lists refer to. */
  aliases: string[];
  /** Set when rekey owns the rule: the `<name>` of `^secrets/<name>\.yaml$`. */
  ownedName: string | undefined;
  /** Flow style (`[ { age: [ … ] } ]`) for an owned rule. */
  flow: boolean;
  lineStart: number;
  lineEnd: number;
  /** Offsets of the owned rule's age list. */
  ageStart: number;
  ageEnd: number;
  ageFlow: boolean;
  ageIndent: string;
}

/** A parsed `.sops.yaml`. */
export interface SopsConfig {
  text: string;
  keys: KeyEntry[];
  keysIndent: string;
  keysEnd: number;
  rules: RuleEntry[];
  rulesIndent: string;
  /** Offset where a rule can be appended (end of the creation_rules list), or -1 if absent. */
  rulesEnd: number;
}

/** An error in `.sops.yaml` with a line and column. */
export class SopsConfigError extends Error {
  override name = "SopsConfigError";
}

// `^secrets/<name>\.yaml$`, or a user's `^secrets/users/<user>/<host>\.yaml$` (name `users/<user>/<host>`).
const OWNED_PATH = /^\^secrets\/((?:users\/[A-Za-z0-9_-]+\/)?[A-Za-z0-9_-]+)\\\.yaml\$$/;

function lineStartOf(text: string, offset: number): number {
  return text.lastIndexOf("\n", offset - 1) + 1;
}

function lineEndAfter(text: string, offset: number): number {
  const newline = text.indexOf("\n", offset);
  return newline < 0 ? text.length : newline + 1;
}

/** End of the last line holding content in [start, end). */
function contentLineEnd(text: string, start: number, end: number): number {
  let last = end - 1;
  while (last > start && /\s/.test(text[last]!)) last--;
  return lineEndAfter(text, last);
}

function lineOf(text: string, offset: number): number {
  return text.slice(0, offset).split("\n").length;
}

function lineCol(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return `line ${line}, column ${offset - lineStartOf(text, offset) + 1}`;
}

function dashIndent(text: string, nodeStart: number): string {
  const start = lineStartOf(text, nodeStart);
  const prefix = text.slice(start, nodeStart);
  const dash = prefix.lastIndexOf("-");
  return dash < 0 ? "" : prefix.slice(0, dash);
}

function fail(file: string, text: string, offset: number, message: string): never {
  throw new SopsConfigError(`Cannot read ${file}: ${lineCol(text, offset)}: ${message}`);
}

function ageStrings(node: unknown, anchors: Map<string, string>): string[] {
  if (YAML.isAlias(node)) {
    const value = anchors.get(node.source);
    return value === undefined ? [] : value.split(",").map((s) => s.trim()).filter(Boolean);
  }
  if (YAML.isScalar(node)) {
    return String(node.value).split(",").map((s) => s.trim()).filter(Boolean);
  }
  if (YAML.isSeq(node)) return node.items.flatMap((item) => ageStrings(item, anchors));
  return [];
}

function aliasNames(node: unknown): string[] {
  if (YAML.isAlias(node)) return [node.source];
  if (YAML.isSeq(node)) return node.items.flatMap(aliasNames);
  return [];
}

/** Parses `.sops.yaml`; errors name the line and column. */
export function parseSopsConfig(text: string, file = ".sops.yaml"): SopsConfig {
  const doc = YAML.parseDocument(text, { uniqueKeys: false });
  const first = doc.errors[0];
  if (first !== undefined) {
    const pos = first.linePos?.[0];
    const where = pos ? `line ${pos.line}, column ${pos.col}` : "unknown position";
    const message = first.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    throw new SopsConfigError(`Cannot read ${file}: ${where}: ${message}`);
  }

  if (doc.contents !== null && !YAML.isMap(doc.contents)) {
    fail(file, text, doc.contents.range?.[0] ?? 0, "expected a mapping at the top level");
  }
  const anchors = new Map<string, string>();
  const anchorAt = new Map<string, number>();
  YAML.visit(doc, {
    Node(_key, node) {
      // Checked here rather than by resolving the document (toJS), which costs a lookup per
      // alias and, with hundreds of rules, most of the time of a --check.
      if (YAML.isAlias(node) && !anchorAt.has(node.source)) {
        throw new SopsConfigError(
          `Cannot read ${file}: ${
            lineCol(text, node.range?.[0] ?? 0)
          }: alias *${node.source} names no anchor defined before it`,
        );
      }
      const anchor = (node as { anchor?: string }).anchor;
      if (!anchor) return;
      const offset = node.range?.[0] ?? 0;
      const first = anchorAt.get(anchor);
      if (first !== undefined) {
        // YAML lets a later anchor shadow an earlier one: every alias after it silently names
        // another key. Refused, naming both.
        throw new SopsConfigError(
          `Cannot read ${file}: anchor &${anchor} is defined twice (${lineCol(text, first)} and ${
            lineCol(text, offset)
          }); rename or remove one`,
        );
      }
      anchorAt.set(anchor, offset);
      if (YAML.isScalar(node)) anchors.set(anchor, String(node.value));
    },
  });

  const keys: KeyEntry[] = [];
  let keysIndent = "  ";
  let keysEnd = -1;
  const keysNode = doc.get("keys", true);
  if (keysNode !== undefined && keysNode !== null) {
    if (!YAML.isSeq(keysNode)) fail(file, text, rangeOf(keysNode), "keys must be a list");
    keysEnd = keysNode.range ? contentLineEnd(text, keysNode.range[0], keysNode.range[1]) : -1;
    keysNode.items.forEach((item, i) => {
      if (!YAML.isScalar(item) || !item.range) {
        fail(file, text, rangeOf(item), "keys entries must be plain values");
      }
      if (i === 0) keysIndent = dashIndent(text, item.range[0]);
      const lineStart = keysNode.flow ? item.range[0] : lineStartOf(text, item.range[0]);
      keys.push({
        anchor: item.anchor,
        value: String(item.value),
        valueStart: item.range[0],
        valueEnd: item.range[1],
        lineStart,
        lineEnd: keysNode.flow ? item.range[1] : contentLineEnd(text, item.range[0], item.range[1]),
        line: lineOf(text, item.range[0]),
      });
    });
    if (keysNode.flow) keysEnd = -1;
  }

  const rules: RuleEntry[] = [];
  let rulesIndent = "  ";
  let rulesEnd = -1;
  let rulesNode = doc.get("creation_rules", true);
  if (YAML.isScalar(rulesNode) && rulesNode.value === null) {
    // `creation_rules:` with no rule under it (as left when the last rule goes) is an empty
    // list: new rules go right below the key.
    const key = /^creation_rules:[ \t]*(?:#.*)?$/m.exec(text);
    if (key) rulesEnd = lineEndAfter(text, key.index);
    rulesNode = undefined;
  }
  if (rulesNode !== undefined && rulesNode !== null) {
    if (!YAML.isSeq(rulesNode)) {
      fail(file, text, rangeOf(rulesNode), "creation_rules must be a list");
    }
    if (!rulesNode.flow && rulesNode.range) {
      rulesEnd = contentLineEnd(text, rulesNode.range[0], rulesNode.range[1]);
    }
    rulesNode.items.forEach((item, index) => {
      if (!YAML.isMap(item) || !item.range) {
        fail(file, text, rangeOf(item), "each creation rule must be a mapping");
      }
      if (index === 0) rulesIndent = dashIndent(text, item.range[0]);
      rules.push(readRule(file, text, item, index, anchors));
    });
  }
  return { text, keys, keysIndent, keysEnd, rules, rulesIndent, rulesEnd };
}

function rangeOf(node: unknown): number {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range?.[0] ?? 0;
}

function readRule(
  file: string,
  text: string,
  map: YAML.YAMLMap,
  index: number,
  anchors: Map<string, string>,
): RuleEntry {
  const pathNode = map.get("path_regex", true);
  const pathRegex = pathNode === undefined ? undefined : String((pathNode as YAML.Scalar).value);
  const ageRecipients: string[] = [];
  const aliases: string[] = [];
  let otherKeyTypes = false;
  const groups = map.get("key_groups", true);
  const collect = (holder: YAML.YAMLMap) => {
    for (const pair of holder.items) {
      const key = String((pair.key as YAML.Scalar | null)?.value ?? pair.key);
      if (key === "age") {
        ageRecipients.push(...ageStrings(pair.value, anchors));
        aliases.push(...aliasNames(pair.value));
      } else if (
        ["pgp", "kms", "gcp_kms", "azure_keyvault", "hc_vault_transit_uri"].includes(key)
      ) {
        otherKeyTypes = true;
      }
    }
  };
  if (YAML.isSeq(groups)) {
    for (const group of groups.items) if (YAML.isMap(group)) collect(group);
  } else {
    collect(map);
  }
  const [start, valueEnd] = map.range!;
  const lineStart = lineStartOf(text, start);
  const lineEnd = contentLineEnd(text, start, valueEnd);
  const base = {
    index,
    line: lineOf(text, start),
    pathRegex,
    ageRecipients,
    otherKeyTypes,
    aliases,
    ownedName: undefined,
    flow: false,
    lineStart,
    lineEnd,
    ageStart: -1,
    ageEnd: -1,
    ageFlow: false,
    ageIndent: "",
  };
  // Owned shape: exactly path_regex ^secrets/<name>\.yaml$ and one age-only key group of
  // aliases to admin_/host_ (and on a user's file, user_) anchors.
  const name = pathRegex?.match(OWNED_PATH)?.[1];
  if (name === undefined || map.items.length !== 2 || !YAML.isSeq(groups)) return base;
  if (groups.items.length !== 1) return base;
  const group = groups.items[0];
  if (!YAML.isMap(group) || group.items.length !== 1) return base;
  const age = group.get("age", true);
  if (!YAML.isSeq(age) || !age.range || age.items.length === 0) return base;
  // A user alias makes a rule owned only on a user's file: elsewhere it is a person's choice.
  const allAliases = age.items.every((item) =>
    YAML.isAlias(item) && anchorKind(item.source) !== undefined &&
    (anchorKind(item.source) !== "user" || name.startsWith("users/"))
  );
  if (!allAliases) return base;
  void file;
  const ageEnd = age.flow ? age.range[1] : contentLineEnd(text, age.range[0], age.range[1]);
  const trimmedEnd = age.flow ? text.slice(age.range[0], ageEnd).trimEnd().length : 0;
  return {
    ...base,
    ownedName: name,
    flow: groups.flow ?? false,
    ageStart: age.flow ? age.range[0] : lineStartOf(text, age.range[0]),
    ageEnd: age.flow ? age.range[0] + trimmedEnd : ageEnd,
    ageFlow: age.flow ?? false,
    ageIndent: age.flow ? "" : dashIndent(text, rangeOf(age.items[0]) || age.range[0]),
  };
}

/** What to change in `.sops.yaml`; everything else stays as written. */
export interface ConfigEdits {
  /** Anchors to add or to give a new value. */
  setAnchors?: { anchor: string; value: string }[];
  /** Anchors whose keys entry is deleted. */
  removeAnchors?: string[];
  /** Owned rules by index: the new alias list, or null to delete the rule. */
  ruleAliases?: Map<number, string[] | null>;
  /** Rules to add (owned shape). */
  newRules?: { name: string; aliases: string[] }[];
}

interface Splice {
  start: number;
  end: number;
  text: string;
}

function formatAgeList(aliases: string[], flow: boolean, indent: string, spaced: boolean) {
  if (flow) {
    const inner = aliases.map((a) => `*${a}`).join(", ");
    return spaced ? `[ ${inner} ]` : `[${inner}]`;
  }
  return aliases.map((a) => `${indent}- *${a}\n`).join("");
}

/** Text of one owned rule. */
export function formatRule(
  name: string,
  aliases: string[],
  options: { indent: string; flow: boolean },
): string {
  const i = options.indent;
  const head = `${i}- path_regex: ^secrets/${name}\\.yaml$\n`;
  if (options.flow) {
    return `${head}${i}  key_groups: [ { age: ${formatAgeList(aliases, true, "", true)} } ]\n`;
  }
  return `${head}${i}  key_groups:\n${i}    - age:\n${
    formatAgeList(aliases, false, `${i}        `, false)
  }`;
}

/** Applies `edits` to the config's text, splicing only the owned pieces. */
export function applyConfigEdits(config: SopsConfig, edits: ConfigEdits): string {
  const { text } = config;
  const splices: Splice[] = [];
  const removeAnchors = new Set(edits.removeAnchors ?? []);
  const inserts: string[] = [];
  const adminInserts: string[] = [];
  const userInserts: string[] = [];
  for (const { anchor, value } of edits.setAnchors ?? []) {
    const existing = config.keys.find((k) => k.anchor === anchor);
    if (existing) {
      if (existing.value !== value) {
        splices.push({ start: existing.valueStart, end: existing.valueEnd, text: value });
      }
    } else if (anchor.startsWith("admin_")) {
      adminInserts.push(`${config.keysIndent}- &${anchor} ${value}\n`);
    } else if (anchor.startsWith("user_")) {
      userInserts.push(`${config.keysIndent}- &${anchor} ${value}\n`);
    } else {
      inserts.push(`${config.keysIndent}- &${anchor} ${value}\n`);
    }
  }
  for (const key of config.keys) {
    if (key.anchor !== undefined && removeAnchors.has(key.anchor)) {
      splices.push({ start: key.lineStart, end: key.lineEnd, text: "" });
    }
  }
  if (inserts.length > 0 || adminInserts.length > 0 || userInserts.length > 0) {
    if (config.keysEnd < 0) {
      throw new Error("Cannot update .sops.yaml: it has no block-style top-level keys: list");
    }
    const lastOf = (prefix: string) =>
      config.keys.filter((k) => k.anchor?.startsWith(prefix) && !removeAnchors.has(k.anchor))
        .at(-1);
    const lastAdmin = lastOf("admin_");
    const lastHost = lastOf("host_");
    const adminAt = lastAdmin?.lineEnd ?? config.keysEnd;
    const hostAt = lastHost?.lineEnd ?? config.keysEnd;
    if (adminInserts.length > 0) {
      splices.push({ start: adminAt, end: adminAt, text: adminInserts.join("") });
    }
    if (inserts.length > 0) {
      // Inserted at the same offset as admins: admins first.
      splices.push({ start: hostAt, end: hostAt, text: inserts.join("") });
    }
    if (userInserts.length > 0) {
      // Users after users, else after hosts: pushed last, so last at a shared offset.
      const userAt = lastOf("user_")?.lineEnd ?? hostAt;
      splices.push({ start: userAt, end: userAt, text: userInserts.join("") });
    }
  }
  for (const [index, aliases] of edits.ruleAliases ?? []) {
    const rule = config.rules[index];
    if (rule?.ownedName === undefined) throw new Error(`Rule ${index} is not owned by rekey`);
    if (aliases === null) {
      splices.push({ start: rule.lineStart, end: rule.lineEnd, text: "" });
      continue;
    }
    if (aliases.join(",") === rule.aliases.join(",")) continue;
    const spaced = text.slice(rule.ageStart, rule.ageStart + 2) === "[ ";
    splices.push({
      start: rule.ageStart,
      end: rule.ageEnd,
      text: formatAgeList(aliases, rule.ageFlow, rule.ageIndent, spaced),
    });
  }
  const newRules = edits.newRules ?? [];
  if (newRules.length > 0) {
    const owned = config.rules.filter((r) => r.ownedName !== undefined);
    const flow = owned.length > 0 && owned.every((r) => r.flow);
    const body = newRules.map((r) =>
      formatRule(r.name, r.aliases, { indent: config.rulesIndent, flow })
    ).join("");
    const lastOwned = owned.at(-1);
    if (lastOwned) {
      splices.push({ start: lastOwned.lineEnd, end: lastOwned.lineEnd, text: body });
    } else if (config.rules.length > 0) {
      splices.push({
        start: config.rules[0]!.lineStart,
        end: config.rules[0]!.lineStart,
        text: body,
      });
    } else if (config.rulesEnd >= 0) {
      splices.push({ start: config.rulesEnd, end: config.rulesEnd, text: body });
    } else if (/^creation_rules:/m.test(text)) {
      throw new Error("Cannot update .sops.yaml: creation_rules is not a block-style list");
    } else {
      const sep = text === "" || text.endsWith("\n") ? "" : "\n";
      splices.push({
        start: text.length,
        end: text.length,
        text: `${sep}creation_rules:\n${body}`,
      });
    }
  }
  // Apply from the end; at equal offsets keep the order they were pushed in.
  // Apply from the end; at one offset, deletions first, then inserts in reverse push order so
  // they end up in push order.
  const ordered = splices.map((s, i) => ({ ...s, i })).sort((a, b) =>
    b.start - a.start || b.end - a.end || b.i - a.i
  );
  let out = text;
  for (const s of ordered) out = out.slice(0, s.start) + s.text + out.slice(s.end);
  return out;
}

/** Translations by pattern: every file is matched against the rules in turn. */
const translated = new Map<string, RegExp>();

/** Converts a sops path_regex (Go RE2) to a JS RegExp; throws naming the rule and the construct. */
export function ruleRegExp(rule: RuleEntry): RegExp | undefined {
  if (rule.pathRegex === undefined) return undefined;
  const known = translated.get(rule.pathRegex);
  if (known !== undefined) return known;
  try {
    const re = re2ToRegExp(rule.pathRegex);
    translated.set(rule.pathRegex, re);
    return re;
  } catch (error) {
    throw new SopsConfigError(
      `Cannot use .sops.yaml creation rule ${
        rule.index + 1
      } (line ${rule.line}): path_regex "${rule.pathRegex}" uses ${
        (error as Error).message
      }, which this tool cannot read as sops does; rewrite the rule`,
    );
  }
}

/** The first rule that matches `path` (relative to the repository root), like sops. */
export function matchRule(config: SopsConfig, path: string): RuleEntry | undefined {
  return config.rules.find((rule) => {
    const re = ruleRegExp(rule);
    return re === undefined || re.test(path);
  });
}
