// The pure rekey plan: the target `.sops.yaml`, which files need new recipients, and what is
// wrong. Who may read what: admins read every file; a host reads its own `secrets/<host>.yaml`
// and the files it was granted; a new file no rule covers is for the admins only.
import {
  anchorKind,
  applyConfigEdits,
  type ConfigEdits,
  matchRule,
  parseSopsConfig,
  type RuleEntry,
  ruleRegExp,
  type SopsConfig,
} from "./sops_yaml.ts";
import { hostKeyPath, type RepoState, type SecretFile, SECRETS_DIR } from "./repo_state.ts";
import { userFileOf, userFileReaders, type UserGrant } from "./users.ts";

/** What the plan needs to know. */
export interface PlanInput extends RepoState {
  /** Rotate the data key where a recipient was removed (default true). */
  rotate?: boolean;
}

/** What happens to one secret file. */
export interface FileAction {
  path: string;
  current: string[];
  wanted: string[];
  added: string[];
  removed: string[];
  /** Needs `sops updatekeys`. */
  update: boolean;
  /** Needs `sops rotate` first. */
  rotate: boolean;
}

/** The kinds of problem; the first group stops any change. */
export type ProblemKind =
  | "no-admin"
  | "duplicate-key"
  | "stale-file"
  | "plaintext"
  | "no-rule"
  | "admin-missing"
  | "host-missing"
  | "host-without-file"
  | "stale-config"
  | "no-single-admin"
  | "host-needs-share";

/** Problems that make a rekey refuse to change anything. */
export const BLOCKING: readonly ProblemKind[] = ["no-admin", "duplicate-key"];

/** Something `--check` reports. */
export interface Problem {
  kind: ProblemKind;
  /** The file, rule or host it is about. */
  subject: string;
  message: string;
}

/** The whole plan. */
export interface RekeyPlan {
  configText: string;
  configChanged: boolean;
  files: FileAction[];
  problems: Problem[];
}

/** Host grants to change on generated rules, by file path. */
export type Grants = Map<string, { add: string[]; remove: string[] }>;

const SIMPLE_FILE = new RegExp(`^${SECRETS_DIR}/([A-Za-z0-9_-]+)\\.yaml$`);

function anchorsOf(config: SopsConfig, kind: "admin" | "host" | "user"): string[] {
  return config.keys.flatMap((k) => anchorKind(k.anchor) === kind ? [k.anchor!] : []);
}

/** Options for {@linkcode planConfigEdits}. */
export interface EditOptions {
  removeAdmins?: readonly string[];
  grants?: Grants;
  /** User anchors to remove (`user_<name>`). */
  removeUsers?: readonly string[];
  /** Grants and revokes of user files, by path. */
  userGrants?: Map<string, UserGrant>;
  /**
   * For a check: what cannot be planned (an anchor a hand-written rule still uses) is added
   * here as a problem instead of stopping the plan.
   */
  report?: Problem[];
}

/** The edits that bring `.sops.yaml` in step with the host keys and the files under secrets/. */
export function planConfigEdits(
  config: SopsConfig,
  hostKeys: Map<string, string>,
  filePaths: readonly string[],
  options: EditOptions = {},
): ConfigEdits {
  const oldHosts = anchorsOf(config, "host");
  const removeAdmins = options.removeAdmins ?? [];
  const hosts = [...hostKeys.keys()].sort();
  const hostAnchors = hosts.map((h) => `host_${h}`);
  const removeUsers = options.removeUsers ?? [];
  const removed = [
    ...oldHosts.filter((a) => !hostAnchors.includes(a)),
    ...removeAdmins,
    ...removeUsers,
  ];
  for (const rule of config.rules) {
    if (rule.ownedName !== undefined) continue;
    for (const dangling of rule.aliases.filter((a) => removed.includes(a))) {
      if (options.report === undefined) {
        throw new Error(
          `Cannot remove anchor "${dangling}": hand-written creation rule ${
            rule.index + 1
          } (line ${rule.line}, path_regex "${
            rule.pathRegex ?? ""
          }") still refers to it; edit that rule first`,
        );
      }
      // A check reports it and plans around it: the anchor stays.
      options.report.push({
        kind: "stale-config",
        subject: dangling,
        message: `.sops.yaml: &${dangling} names no ${
          anchorKind(dangling) === "host" ? "host key under configurations/" : "admin or user left"
        }, but hand-written creation rule ${
          rule.index + 1
        } (line ${rule.line}) still refers to it; edit that rule`,
      });
      removed.splice(removed.indexOf(dangling), 1);
    }
  }
  const admins = anchorsOf(config, "admin").filter((a) => !removeAdmins.includes(a));
  const grants: Grants = options.grants ?? new Map();
  // A host gets its own file when the file's rule is made (a new file, host add), and keeps it
  // while its rule names it. A rule that no longer names it (the host was removed) gives its
  // key nothing back by itself: a .pub put back and a rekey re-grant nothing; `host add
  // --restore` asks for it by name.
  const hostsFor = (name: string, named: readonly string[], isNew: boolean) => {
    const grant = grants.get(`${SECRETS_DIR}/${name}.yaml`);
    const own = hostKeys.has(name) && isNew ? [`host_${name}`] : [];
    const wanted = [...named, ...own, ...(grant?.add ?? []).map((h) => `host_${h}`)];
    const drop = (grant?.remove ?? []).map((h) => `host_${h}`);
    return [...new Set(wanted)].filter((a) => hostAnchors.includes(a) && !drop.includes(a));
  };
  const userAnchors = anchorsOf(config, "user").filter((a) => !removeUsers.includes(a));
  // A user file's readers come from users.ts; every other file's from its hosts.
  const readers = (name: string, ruleAliases: readonly string[], isNew: boolean) => {
    const path = `${SECRETS_DIR}/${name}.yaml`;
    const userFile = userFileOf(path);
    if (userFile === undefined) {
      return hostsFor(name, ruleAliases.filter((a) => anchorKind(a) === "host"), isNew);
    }
    const change = options.userGrants?.get(path);
    return userFileReaders(userFile, {
      ruleAliases,
      userAnchors,
      hostAnchors,
      ...(change === undefined ? {} : { change }),
    });
  };
  const existing = new Set(filePaths);
  const ruleAliases = new Map<number, string[] | null>();
  const seen = new Set<string>();
  for (const rule of config.rules) {
    const name = rule.ownedName;
    if (name === undefined) continue;
    if (!existing.has(`${SECRETS_DIR}/${name}.yaml`) || seen.has(name)) {
      ruleAliases.set(rule.index, null);
      continue;
    }
    seen.add(name);
    ruleAliases.set(rule.index, [...admins, ...readers(name, rule.aliases, false)]);
  }
  const newRules: { name: string; aliases: string[] }[] = [];
  for (const path of [...filePaths].sort()) {
    const name = path.match(SIMPLE_FILE)?.[1] ??
      (userFileOf(path) === undefined ? undefined : path.slice(SECRETS_DIR.length + 1, -5));
    if (name === undefined || seen.has(name)) continue;
    if (config.rules.some((r) => r.ownedName === undefined && matches(r, path))) continue;
    seen.add(name);
    // A new file is for the admins (and its own host) until hosts are granted it.
    newRules.push({ name, aliases: [...admins, ...readers(name, [], true)] });
  }
  return {
    setAnchors: hosts.map((h) => ({ anchor: `host_${h}`, value: hostKeys.get(h)! })),
    removeAnchors: removed,
    ruleAliases,
    newRules,
  };
}

function matches(rule: RuleEntry, path: string): boolean {
  return ruleRegExp(rule)?.test(path) ?? true;
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** How a rule is named in messages: `your rule 3 (line 14)` for a hand-written one. */
export function describeRule(rule: RuleEntry): string {
  return rule.ownedName === undefined
    ? `your rule ${rule.index + 1} (line ${rule.line})`
    : `the generated rule ${rule.index + 1} (line ${rule.line})`;
}

/** Two anchors for one key, or a host key that another anchor already holds. */
function duplicateKeys(config: SopsConfig, hostKeys: Map<string, string>): Problem[] {
  const problems: Problem[] = [];
  const byValue = new Map<string, string>();
  const entries = [
    ...config.keys.filter((k) => k.anchor !== undefined && anchorKind(k.anchor) !== "host")
      .map((k) => ({ name: `&${k.anchor} (line ${k.line})`, value: k.value })),
    ...[...hostKeys].map(([h, value]) => ({
      name: `host ${h} (${hostKeyPath(h)})`,
      value,
    })),
  ];
  for (const { name, value } of entries) {
    for (const one of value.split(",").map((v) => v.trim()).filter(Boolean)) {
      const first = byValue.get(one);
      if (first !== undefined) {
        problems.push({
          kind: "duplicate-key",
          subject: name,
          message:
            `${first} and ${name} are the same key (${one}); each admin and host needs its own key`,
        });
      } else byValue.set(one, name);
    }
  }
  return problems;
}

/** Plans a rekey: pure, from plain data. */
export function planRekey(input: PlanInput, options: EditOptions = {}): RekeyPlan {
  const { config, hostKeys, files } = input;
  const rotate = input.rotate ?? true;
  const paths = files.map((f) => f.path);
  // Every rule is read as sops reads it up front: one that cannot be is refused, never skipped.
  for (const rule of config.rules) ruleRegExp(rule);
  const problems: Problem[] = duplicateKeys(config, hostKeys);
  const configText = applyConfigEdits(config, planConfigEdits(config, hostKeys, paths, options));
  problems.push(...(options.report ?? []));
  const configChanged = configText !== config.text;
  const target = configChanged
    ? parseSopsConfig(configText, ".sops.yaml (as rekey would write it)")
    : config;
  if (configChanged) {
    problems.push({
      kind: "stale-config",
      subject: ".sops.yaml",
      message: ".sops.yaml: host anchors or generated rules are not in step with the repository",
    });
  }
  const keyOf = new Map(target.keys.map((k) => [k.anchor, k.value]));
  const adminAnchors = anchorsOf(target, "admin");
  // Without admin_ anchors (a layout this tool did not write), every key that is no host's is
  // taken for a person's.
  const hostValues = new Set([
    ...hostKeys.values(),
    ...target.keys.filter((k) => anchorKind(k.anchor) === "host").map((k) => k.value),
  ]);
  const isPerson = adminAnchors.length > 0
    ? ((r: string) => adminAnchors.some((a) => keyOf.get(a) === r))
    : ((r: string) => !hostValues.has(r));
  const actions: FileAction[] = [];
  for (const file of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    if (file.metadata === null) {
      problems.push({
        kind: "plaintext",
        subject: file.path,
        message: `${file.path}: no sops metadata in any format (a plaintext file under secrets/)`,
      });
      continue;
    }
    const rule = matchRule(target, file.path);
    if (rule === undefined) {
      problems.push({
        kind: "no-rule",
        subject: file.path,
        message: `${file.path}: no creation rule in .sops.yaml matches it`,
      });
      continue;
    }
    const current = unique(file.metadata.age);
    const wanted = unique(rule.ageRecipients);
    if (!wanted.some(isPerson)) {
      problems.push({
        kind: "no-admin",
        subject: file.path,
        message: `${file.path}: ${describeRule(rule)} gives it no admin age key${
          rule.otherKeyTypes ? " (only pgp/kms keys)" : ""
        }, so no admin could decrypt it; add an admin alias to that rule`,
      });
    }
    for (const anchor of adminAnchors) {
      if (!wanted.includes(keyOf.get(anchor)!)) {
        problems.push({
          kind: "admin-missing",
          subject: file.path,
          message: `${file.path}: admin ${anchor.replace(/^admin_/, "")} cannot read it: ${
            describeRule(rule)
          } has no *${anchor}`,
        });
      }
    }
    const host = file.path.match(SIMPLE_FILE)?.[1];
    if (host !== undefined && hostKeys.has(host) && !wanted.includes(hostKeys.get(host)!)) {
      problems.push({
        kind: "host-missing",
        subject: file.path,
        message: `${file.path}: host ${host} cannot read its own file: ${
          describeRule(rule)
        } has no *host_${host}${
          rule.ownedName === undefined
            ? ""
            : ` (a removed host's key is given nothing back by itself: \`secrets grant ${file.path} ${host}\` gives it)`
        }`,
      });
    }
    problems.push(...sharedKeyProblems(file.path, rule, file.metadata, { isPerson, hostKeys }));
    const added = wanted.filter((r) => !current.includes(r));
    const removed = current.filter((r) => !wanted.includes(r));
    // Key groups are compared too: sops updatekeys rebuilds them from the rule (but keeps the
    // file's own shamir_threshold: updatekeys.go, updateFile).
    const regroup = groupShape(rule.groups) !== groupShape(file.metadata.groups ?? []);
    const update = added.length > 0 || removed.length > 0 || regroup;
    actions.push({
      path: file.path,
      current,
      wanted,
      added,
      removed,
      update,
      rotate: rotate && removed.length > 0,
    });
    if (update) {
      problems.push({
        kind: "stale-file",
        subject: file.path,
        message:
          `${file.path}: recipients differ from .sops.yaml (${added.length} to add, ${removed.length} to remove${
            regroup ? ", key groups differ" : ""
          })`,
      });
    }
  }
  for (const host of [...hostKeys.keys()].sort()) {
    if (!paths.includes(`${SECRETS_DIR}/${host}.yaml`)) {
      problems.push({
        kind: "host-without-file",
        subject: host,
        message: `host "${host}" has no ${SECRETS_DIR}/${host}.yaml`,
      });
    }
  }
  return { configText, configChanged, files: actions, problems };
}

/** Key groups as one comparable string; "" for a single group. */
function groupShape(groups: readonly { age: readonly string[] }[]): string {
  if (groups.length < 2) return "";
  return groups.map((g) => [...new Set(g.age)].sort().join(",")).join("|");
}

/**
 * With key groups and a threshold above 1, a recipient reads a file alone only if it is in that
 * many groups (sops.go, GetDataKeyWithKeyServices). A file no admin reads alone is a lock-out
 * waiting to happen; a host that holds only a share cannot decrypt it at activation.
 */
function sharedKeyProblems(
  path: string,
  rule: RuleEntry,
  metadata: { age: string[]; groups?: { age: string[] }[]; threshold?: number },
  options: { isPerson: (r: string) => boolean; hostKeys: Map<string, string> },
): Problem[] {
  // What the file is now: its own key groups and threshold, which sops keeps on updatekeys.
  const groups = metadata.groups ?? [];
  const threshold = metadata.threshold ?? 1;
  if (groups.length < 2 || threshold < 2) return [];
  const need = `${threshold} of its ${groups.length} key groups are needed`;
  const alone = (r: string) => groups.filter((g) => g.age.includes(r)).length >= threshold;
  const problems: Problem[] = [];
  if (!metadata.age.some((r) => options.isPerson(r) && alone(r))) {
    problems.push({
      kind: "no-single-admin",
      subject: path,
      message: `${path}: no admin can read it alone: its data key is split (${need}; ${
        describeRule(rule)
      }), so losing one group's keys locks everyone out; put an admin in ${threshold} groups or use one group`,
    });
  }
  for (const [host, r] of [...options.hostKeys].sort()) {
    if (metadata.age.includes(r) && !alone(r)) {
      problems.push({
        kind: "host-needs-share",
        subject: path,
        message:
          `${path}: host ${host} can read it only with another party (${need}), so it cannot decrypt it on its own`,
      });
    }
  }
  return problems;
}

/** The blocking problems as one error, or undefined when the plan may run. */
export function blockingError(plan: RekeyPlan): Error | undefined {
  const blocking = plan.problems.filter((p) => BLOCKING.includes(p.kind));
  if (blocking.length === 0) return undefined;
  return new Error(
    `Cannot change anything: ${blocking.map((p) => p.message).join("; ")}; nothing was changed`,
  );
}

/** A file's state as the plan reads it. */
export type { SecretFile };
