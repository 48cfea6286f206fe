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

/**
 * One recipient entry of the top-level `keys:` list: a plain value, directly in the list or in
 * a list nested in it (`- &hosts` then `- &web age1…` under it).
 */
export interface KeyEntry {
  anchor: string | undefined;
  value: string;
  /** Offsets of the value (after the anchor). */
  valueStart: number;
  valueEnd: number;
  /** Offsets of the whole line(s) of the item, from the start of its line to its newline. */
  lineStart: number;
  lineEnd: number;
  /** What goes before the item's `-` on its line, for a new item after it. */
  indent: string;
  /** True when the entry sits in a list nested in `keys:` (a group such as `&hosts`). */
  nested: boolean;
  /** 1-based line number, for messages. */
  line: number;
}

/** One key group of a rule: the recipients that can each decrypt one share of the data key. */
export interface RuleGroup {
  age: string[];
  /** PGP fingerprints. */
  pgp: string[];
  /** KMS and other keys, as `kind:id`. */
  other: string[];
}

/** One creation rule. */
export interface RuleEntry {
  index: number;
  /** 1-based line number of the rule, for messages. */
  line: number;
  pathRegex: string | undefined;
  /** Age recipients of every key group (aliases resolved). */
  ageRecipients: string[];
  /**
   * The key groups as sops builds them (config/config.go, getKeyGroupsFromCreationRule): the
   * rule's `key_groups`, `merge` folded in, or one group of its top-level keys.
   */
  groups: RuleGroup[];
  /**
   * Groups needed to decrypt: `shamir_threshold`, or every group when it is 0 or absent
   * (sops.go, Metadata.UpdateMasterKeysWithKeyServices); 1 with one group.
   */
  threshold: number;
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

/**
 * Where the recipients the tool writes can go: `list`, a block `keys:` list (nested lists
 * allowed); `none`, no top-level `keys:` (one is added above `creation_rules:`); `other`, a
 * `keys:` the tool does not write into (flow style, a mapping, a single value).
 */
export type KeysLayout = "list" | "none" | "other";

/** A parsed `.sops.yaml`. */
export interface SopsConfig {
  text: string;
  keys: KeyEntry[];
  /** Every anchored value anywhere in the file (`keys:`, `age_keys:`, inside rules): its name. */
  named: { anchor: string; value: string }[];
  keysLayout: KeysLayout;
  /** 1-based line of `keys:`, for messages (0 when absent). */
  keysLine: number;
  keysIndent: string;
  keysEnd: number;
  /** Offset where a new `keys:` list goes when there is none (the line of `creation_rules:`). */
  keysInsertAt: number;
  rules: RuleEntry[];
  rulesIndent: string;
  /** Offset where a rule can be appended (end of the creation_rules list), or -1 if absent. */
  rulesEnd: number;
  /** True when there is a top-level `creation_rules` key (of any shape). */
  hasRulesKey: boolean;
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

/** A token of the parsed document's source (kept with keepSourceTokens). */
interface SourceToken {
  type: string;
  offset: number;
}

/**
 * The offsets of the `-` of each item of a block sequence, from the parser's own tokens (never
 * by searching the line: `&nix-main` holds a `-` too).
 */
function dashOffsets(seq: YAML.YAMLSeq): (number | undefined)[] {
  const src = (seq as { srcToken?: { type: string; items?: { start: SourceToken[] }[] } })
    .srcToken;
  if (src?.type !== "block-seq" || src.items === undefined) return seq.items.map(() => undefined);
  return src.items.map((item) => item.start.find((t) => t.type === "seq-item-ind")?.offset);
}

/** What goes before the `-` at `dash` for an item written on its own line: its indentation. */
function indentAt(text: string, dash: number | undefined): string {
  if (dash === undefined) return "";
  const before = text.slice(lineStartOf(text, dash), dash);
  return before.replace(/[^\t]/g, " ");
}

function fail(file: string, text: string, offset: number, message: string): never {
  throw new SopsConfigError(`Cannot read ${file}: ${lineCol(text, offset)}: ${message}`);
}

/** Resolves anchors to the nodes they name, for aliases to lists as well as values. */
type AnchorNodes = Map<string, YAML.Node>;

function keyStrings(node: unknown, anchors: AnchorNodes, depth = 0): string[] {
  if (depth > 20) return [];
  if (YAML.isAlias(node)) return keyStrings(anchors.get(node.source), anchors, depth + 1);
  if (YAML.isScalar(node)) {
    if (node.value === null || node.value === undefined) return [];
    return String(node.value).split(",").map((s) => s.trim()).filter(Boolean);
  }
  if (YAML.isSeq(node)) return node.items.flatMap((item) => keyStrings(item, anchors, depth + 1));
  return [];
}

/** Ids of the KMS-like keys of a group (lists of maps) or a rule (comma-separated strings). */
function otherStrings(kind: string, node: unknown, anchors: AnchorNodes): string[] {
  const value = YAML.isAlias(node) ? anchors.get(node.source) : node;
  if (YAML.isSeq(value)) {
    return value.items.flatMap((item) => {
      if (YAML.isMap(item)) {
        const id = ["arn", "resource_id", "vaultUrl", "key"].map((k) => item.get(k)).find(Boolean);
        return [`${kind}:${String(id ?? "?")}`];
      }
      return keyStrings(item, anchors).map((id) => `${kind}:${id}`);
    });
  }
  return keyStrings(value, anchors).map((id) => `${kind}:${id}`);
}

function aliasNames(node: unknown): string[] {
  if (YAML.isAlias(node)) return [node.source];
  if (YAML.isSeq(node)) return node.items.flatMap(aliasNames);
  return [];
}

const OTHER_KEY_KINDS = ["kms", "gcp_kms", "azure_keyvault", "hc_vault", "hc_vault_transit_uri"];

/** Parses `.sops.yaml`; errors name the line and column. */
export function parseSopsConfig(text: string, file = ".sops.yaml"): SopsConfig {
  // logLevel "error": the parser's warnings (an anchor ending in `:`) would go to stderr.
  const doc = YAML.parseDocument(text, {
    uniqueKeys: false,
    keepSourceTokens: true,
    logLevel: "error",
  });
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
  const anchors: AnchorNodes = new Map();
  const anchorAt = new Map<string, number>();
  const named: { anchor: string; value: string }[] = [];
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
      anchors.set(anchor, node as YAML.Node);
      if (YAML.isScalar(node) && node.value !== null) {
        named.push({ anchor, value: String(node.value) });
      }
    },
  });

  const top = YAML.isMap(doc.contents) ? doc.contents : undefined;
  const topPair = (name: string) =>
    top?.items.find((p) => YAML.isScalar(p.key) && p.key.value === name);

  const keys: KeyEntry[] = [];
  let keysIndent = "  ";
  let keysEnd = -1;
  let keysLayout: KeysLayout = "none";
  const keysPair = topPair("keys");
  const keysLine = keysPair ? lineOf(text, rangeOf(keysPair.key)) : 0;
  const keysNode = keysPair?.value;
  if (keysPair !== undefined) keysLayout = "other";
  if (YAML.isSeq(keysNode) && !keysNode.flow && keysNode.range) {
    keysLayout = "list";
    keysEnd = contentLineEnd(text, keysNode.range[0], keysNode.range[1]);
    keysIndent = indentAt(text, dashOffsets(keysNode)[0]) || "  ";
    const walk = (seq: YAML.YAMLSeq, nested: boolean) => {
      const dashes = dashOffsets(seq);
      seq.items.forEach((item, i) => {
        if (YAML.isSeq(item) && !item.flow) return walk(item, true);
        // Maps and flow lists in keys: are anchors for sops too (named above); not entries.
        if (!YAML.isScalar(item) || !item.range || item.value === null) return;
        const dash = dashes[i];
        if (dash === undefined) return;
        keys.push({
          anchor: item.anchor,
          value: String(item.value),
          valueStart: item.range[0],
          valueEnd: item.range[1],
          lineStart: lineStartOf(text, dash),
          lineEnd: contentLineEnd(text, item.range[0], item.range[1]),
          indent: indentAt(text, dash),
          nested,
          line: lineOf(text, item.range[0]),
        });
      });
    };
    walk(keysNode, false);
  }

  const rules: RuleEntry[] = [];
  let rulesIndent = "  ";
  let rulesEnd = -1;
  const rulesPair = topPair("creation_rules");
  let rulesNode = rulesPair?.value;
  const keysInsertAt = rulesPair ? lineStartOf(text, rangeOf(rulesPair.key)) : text.length;
  if (
    rulesPair !== undefined && (rulesNode === null || YAML.isScalar(rulesNode)) &&
    (rulesNode === null || (rulesNode as YAML.Scalar).value === null)
  ) {
    // `creation_rules:` with no rule under it (as left when the last rule goes) is an empty
    // list: new rules go right below the key.
    rulesEnd = lineEndAfter(text, rangeOf(rulesPair.key));
    rulesNode = undefined;
  }
  if (rulesNode !== undefined && rulesNode !== null) {
    if (!YAML.isSeq(rulesNode)) {
      fail(file, text, rangeOf(rulesNode), "creation_rules must be a list");
    }
    if (!rulesNode.flow && rulesNode.range) {
      rulesEnd = contentLineEnd(text, rulesNode.range[0], rulesNode.range[1]);
    }
    const dashes = dashOffsets(rulesNode);
    rulesNode.items.forEach((item, index) => {
      if (!YAML.isMap(item) || !item.range) {
        fail(file, text, rangeOf(item), "each creation rule must be a mapping");
      }
      if (index === 0) rulesIndent = indentAt(text, dashes[0]) || "  ";
      rules.push(readRule(text, item, index, anchors));
    });
  }
  return {
    text,
    keys,
    named,
    keysLayout,
    keysLine,
    keysIndent,
    keysEnd,
    keysInsertAt,
    rules,
    rulesIndent,
    rulesEnd,
    hasRulesKey: rulesPair !== undefined,
  };
}

function rangeOf(node: unknown): number {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range?.[0] ?? 0;
}

function readGroup(
  holder: YAML.YAMLMap,
  anchors: AnchorNodes,
  depth = 0,
): RuleGroup & { aliases: string[] } {
  const out = {
    age: [] as string[],
    pgp: [] as string[],
    other: [] as string[],
    aliases: [] as string[],
  };
  for (const pair of holder.items) {
    const key = String((pair.key as YAML.Scalar | null)?.value ?? pair.key);
    if (key === "age") {
      out.age.push(...keyStrings(pair.value, anchors));
      out.aliases.push(...aliasNames(pair.value));
    } else if (key === "pgp") {
      out.pgp.push(...keyStrings(pair.value, anchors));
    } else if (OTHER_KEY_KINDS.includes(key)) {
      out.other.push(...otherStrings(key, pair.value, anchors));
    } else if (key === "merge" && depth < 10) {
      // sops folds each merged group into this one (config.go, extractMasterKeys).
      const merged = YAML.isAlias(pair.value) ? anchors.get(pair.value.source) : pair.value;
      if (YAML.isSeq(merged)) {
        for (const sub of merged.items) {
          const map = YAML.isAlias(sub) ? anchors.get(sub.source) : sub;
          if (!YAML.isMap(map)) continue;
          const inner = readGroup(map, anchors, depth + 1);
          out.age.push(...inner.age);
          out.pgp.push(...inner.pgp);
          out.other.push(...inner.other);
          out.aliases.push(...inner.aliases);
        }
      }
    }
  }
  return out;
}

function readRule(
  text: string,
  map: YAML.YAMLMap,
  index: number,
  anchors: AnchorNodes,
): RuleEntry {
  const pathNode = map.get("path_regex", true);
  const pathRegex = pathNode === undefined || pathNode === null
    ? undefined
    : String((pathNode as YAML.Scalar).value);
  let groupsNode = map.get("key_groups", true) as unknown;
  if (YAML.isAlias(groupsNode)) groupsNode = anchors.get(groupsNode.source);
  const read: (RuleGroup & { aliases: string[] })[] = [];
  // As sops: a non-empty key_groups wins and the rule's own keys are ignored.
  if (YAML.isSeq(groupsNode) && groupsNode.items.length > 0) {
    for (const item of groupsNode.items) {
      const group = YAML.isAlias(item) ? anchors.get(item.source) : item;
      read.push(
        YAML.isMap(group)
          ? readGroup(group, anchors)
          : { age: [], pgp: [], other: [], aliases: [] },
      );
    }
  } else {
    read.push(readGroup(map, anchors));
  }
  const groups = read.map(({ age, pgp, other }) => ({ age, pgp, other }));
  const thresholdNode = map.get("shamir_threshold");
  const asked = typeof thresholdNode === "number" ? thresholdNode : Number(thresholdNode ?? 0);
  const threshold = groups.length <= 1
    ? 1
    : Number.isInteger(asked) && asked > 0
    ? Math.min(asked, groups.length)
    : groups.length;
  const ageRecipients = read.flatMap((g) => g.age);
  const aliases = read.flatMap((g) => g.aliases);
  const otherKeyTypes = groups.some((g) => g.pgp.length > 0 || g.other.length > 0);
  const groups0 = map.get("key_groups", true);
  const [start, valueEnd] = map.range!;
  const lineStart = lineStartOf(text, start);
  const lineEnd = contentLineEnd(text, start, valueEnd);
  const base = {
    index,
    line: lineOf(text, start),
    pathRegex,
    ageRecipients,
    groups,
    threshold,
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
  if (name === undefined || map.items.length !== 2 || !YAML.isSeq(groups0)) return base;
  if (groups0.items.length !== 1) return base;
  const group = groups0.items[0];
  if (!YAML.isMap(group) || group.items.length !== 1) return base;
  const age = group.get("age", true);
  if (!YAML.isSeq(age) || !age.range || age.items.length === 0) return base;
  // A user alias makes a rule owned only on a user's file: elsewhere it is a person's choice.
  const allAliases = age.items.every((item) =>
    YAML.isAlias(item) && YAML.isScalar(anchors.get(item.source)) &&
    anchorKind(item.source) !== undefined &&
    (anchorKind(item.source) !== "user" || name.startsWith("users/"))
  );
  if (!allAliases) return base;
  const ageEnd = age.flow ? age.range[1] : contentLineEnd(text, age.range[0], age.range[1]);
  const trimmedEnd = age.flow ? text.slice(age.range[0], ageEnd).trimEnd().length : 0;
  return {
    ...base,
    ownedName: name,
    flow: groups0.flow ?? false,
    ageStart: age.flow ? age.range[0] : lineStartOf(text, age.range[0]),
    ageEnd: age.flow ? age.range[0] + trimmedEnd : ageEnd,
    ageFlow: age.flow ?? false,
    ageIndent: age.flow ? "" : indentAt(text, dashOffsets(age)[0]),
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
  // New entries by kind: each group goes after the last entry of its kind (at that entry's own
  // indentation, so inside a nested list it stays in that list).
  const inserts: Record<"admin" | "host" | "user", { anchor: string; value: string }[]> = {
    admin: [],
    host: [],
    user: [],
  };
  for (const { anchor, value } of edits.setAnchors ?? []) {
    const existing = config.keys.find((k) => k.anchor === anchor);
    if (existing) {
      if (existing.value !== value) {
        splices.push({ start: existing.valueStart, end: existing.valueEnd, text: value });
      }
      continue;
    }
    if (config.named.some((n) => n.anchor === anchor)) {
      throw new Error(
        `Cannot update .sops.yaml: &${anchor} is defined outside the keys: list, where this tool does not write; give it the value ${value} by hand (or move it under keys:), then run deno task rekey`,
      );
    }
    inserts[anchor.startsWith("admin_") ? "admin" : anchor.startsWith("user_") ? "user" : "host"]
      .push({ anchor, value });
  }
  for (const key of config.keys) {
    if (key.anchor !== undefined && removeAnchors.has(key.anchor)) {
      splices.push({ start: key.lineStart, end: key.lineEnd, text: "" });
    }
  }
  const adding = [...inserts.admin, ...inserts.host, ...inserts.user];
  if (adding.length > 0) {
    const lines = (list: { anchor: string; value: string }[], indent: string) =>
      list.map(({ anchor, value }) => `${indent}- &${anchor} ${value}\n`).join("");
    if (config.keysLayout === "other") {
      throw new Error(
        `Cannot update .sops.yaml: its keys: (line ${config.keysLine}) is not a block list, which this tool does not write into; add ${
          adding.map((a) => `- &${a.anchor} ${a.value}`).join(", ")
        } under a block keys: list by hand, then run deno task rekey`,
      );
    }
    if (config.keysLayout === "none") {
      // No keys: list: one is added above creation_rules (anchors come before their aliases),
      // every byte already there kept.
      const at = config.keysInsertAt;
      const sep = at > 0 && !text.slice(0, at).endsWith("\n") ? "\n" : "";
      splices.push({ start: at, end: at, text: `${sep}keys:\n${lines(adding, "  ")}` });
    } else {
      const lastOf = (prefix: string) =>
        config.keys.filter((k) => k.anchor?.startsWith(prefix) && !removeAnchors.has(k.anchor))
          .at(-1);
      const end = { at: config.keysEnd, indent: config.keysIndent };
      const after = (entry: KeyEntry | undefined) =>
        entry === undefined ? end : { at: entry.lineEnd, indent: entry.indent };
      const admin = after(lastOf("admin_"));
      const host = after(lastOf("host_"));
      // Pushed in this order, so at a shared offset admins come first, then hosts, then users.
      if (inserts.admin.length > 0) {
        splices.push({ start: admin.at, end: admin.at, text: lines(inserts.admin, admin.indent) });
      }
      if (inserts.host.length > 0) {
        splices.push({ start: host.at, end: host.at, text: lines(inserts.host, host.indent) });
      }
      if (inserts.user.length > 0) {
        const user = lastOf("user_") === undefined ? host : after(lastOf("user_"));
        splices.push({ start: user.at, end: user.at, text: lines(inserts.user, user.indent) });
      }
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
    } else if (config.hasRulesKey) {
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
  checkEdited(out, edits);
  return out;
}

/**
 * Reads back what an edit wrote: it must parse, and hold each anchor set with its value and no
 * anchor removed. A layout the splicing got wrong is refused here, with the edit to make by
 * hand, instead of being written.
 */
function checkEdited(out: string, edits: ConfigEdits): void {
  const wanted = (edits.setAnchors ?? []).map((a) => `- &${a.anchor} ${a.value}`);
  const byHand = `make the edit by hand (${
    [...wanted, ...(edits.removeAnchors ?? []).map((a) => `remove &${a}`)].join(", ") ||
    "the generated rules"
  }), then run deno task rekey`;
  let parsed: SopsConfig;
  try {
    parsed = parseSopsConfig(out, ".sops.yaml (as edited)");
  } catch (error) {
    throw new Error(
      `Cannot update .sops.yaml: the edit would not read back (${
        (error as Error).message
      }); ${byHand}`,
    );
  }
  for (const { anchor, value } of edits.setAnchors ?? []) {
    if (parsed.keys.find((k) => k.anchor === anchor)?.value !== value) {
      throw new Error(`Cannot update .sops.yaml: &${anchor} would not read back; ${byHand}`);
    }
  }
  for (const anchor of edits.removeAnchors ?? []) {
    if (parsed.named.some((n) => n.anchor === anchor)) {
      throw new Error(`Cannot update .sops.yaml: &${anchor} would remain; ${byHand}`);
    }
  }
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
