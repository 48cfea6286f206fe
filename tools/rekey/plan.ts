// The pure rekey plan: the target `.sops.yaml`, which files need new recipients, and what is wrong.
import {
  applyConfigEdits,
  type ConfigEdits,
  matchRule,
  parseSopsConfig,
  ruleRegExp,
  type SopsConfig,
} from "./sops_yaml.ts";

/** A file under secrets/ as found on disk. */
export interface SecretFile {
  /** Path relative to the repository root: `secrets/web1.yaml`. */
  path: string;
  /** Age recipients in its sops metadata, or null when it has no sops metadata. */
  recipients: string[] | null;
}

/** What the plan needs to know. */
export interface PlanInput {
  config: SopsConfig;
  /** Host name → age recipient derived from its SSH host key. */
  hostKeys: Map<string, string>;
  files: SecretFile[];
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
  /** Needs `sops rotate` afterwards. */
  rotate: boolean;
}

/** Something `--check` reports. */
export interface Problem {
  kind:
    | "stale-file"
    | "plaintext"
    | "no-rule"
    | "orphan-rule"
    | "host-without-file"
    | "stale-config";
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

const SIMPLE_FILE = /^secrets\/([A-Za-z0-9_-]+)\.yaml$/;

function anchorsWith(config: SopsConfig, prefix: string): string[] {
  return config.keys.flatMap((k) => k.anchor?.startsWith(prefix) ? [k.anchor] : []);
}

/** The edits that bring `.sops.yaml` in step with the host keys and the files under secrets/. */
export function planConfigEdits(
  config: SopsConfig,
  hostKeys: Map<string, string>,
  filePaths: readonly string[],
  options: { removeAdmins?: readonly string[] } = {},
): ConfigEdits {
  const oldHosts = anchorsWith(config, "host_");
  const removeAdmins = options.removeAdmins ?? [];
  const hosts = [...hostKeys.keys()].sort();
  const newHostAnchors = hosts.map((h) => `host_${h}`);
  const removed = [...oldHosts.filter((a) => !newHostAnchors.includes(a)), ...removeAdmins];
  // Keep the keys order: existing anchors in place, new ones appended sorted.
  const keptOrder = oldHosts.filter((a) => newHostAnchors.includes(a));
  const hostOrder = [...keptOrder, ...newHostAnchors.filter((a) => !keptOrder.includes(a))];
  for (const rule of config.rules) {
    if (rule.ownedName !== undefined) continue;
    const dangling = rule.aliases.find((a) => removed.includes(a));
    if (dangling) {
      throw new Error(
        `Cannot remove anchor "${dangling}": hand-written creation rule ${
          rule.index + 1
        } (path_regex "${rule.pathRegex ?? ""}") still refers to it; edit that rule first`,
      );
    }
  }
  const admins = anchorsWith(config, "admin_").filter((a) => !removeAdmins.includes(a));
  const existing = new Set(filePaths);
  const allOldHostsSorted = [...oldHosts].sort().join(",");
  const ruleAliases = new Map<number, string[] | null>();
  const seen = new Set<string>();
  for (const rule of config.rules) {
    const name = rule.ownedName;
    if (name === undefined) continue;
    if (!existing.has(`secrets/${name}.yaml`) || seen.has(name)) {
      ruleAliases.set(rule.index, null);
      continue;
    }
    seen.add(name);
    let hostAliases: string[];
    if (hostKeys.has(name)) {
      hostAliases = [`host_${name}`];
    } else {
      const named = rule.aliases.filter((a) => a.startsWith("host_"));
      const everyHost = named.length > 0 && [...named].sort().join(",") === allOldHostsSorted;
      hostAliases = everyHost ? hostOrder : named.filter((a) => hostOrder.includes(a));
    }
    ruleAliases.set(rule.index, [...admins, ...hostAliases]);
  }
  const newRules: { name: string; aliases: string[] }[] = [];
  for (const path of [...filePaths].sort()) {
    const name = path.match(SIMPLE_FILE)?.[1];
    if (name === undefined || seen.has(name)) continue;
    if (config.rules.some((r) => r.ownedName === undefined && matches(r, path))) continue;
    seen.add(name);
    const hostAliases = hostKeys.has(name) ? [`host_${name}`] : hostOrder;
    newRules.push({ name, aliases: [...admins, ...hostAliases] });
  }
  return {
    setAnchors: hosts.map((h) => ({ anchor: `host_${h}`, value: hostKeys.get(h)! })),
    removeAnchors: removed,
    ruleAliases,
    newRules,
  };
}

function matches(rule: SopsConfig["rules"][number], path: string): boolean {
  const re = ruleRegExp(rule);
  return re === undefined || re.test(path);
}

function unique(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/** Plans a rekey: pure, from plain data. */
export function planRekey(input: PlanInput): RekeyPlan {
  const { config, hostKeys, files } = input;
  const rotate = input.rotate ?? true;
  const paths = files.map((f) => f.path);
  const configText = applyConfigEdits(config, planConfigEdits(config, hostKeys, paths));
  const target = parseSopsConfig(configText, ".sops.yaml (as rekey would write it)");
  const problems: Problem[] = [];
  const configChanged = configText !== config.text;
  if (configChanged) {
    problems.push({
      kind: "stale-config",
      subject: ".sops.yaml",
      message: ".sops.yaml: host anchors or generated rules are not in step with the repository",
    });
  }
  const actions: FileAction[] = [];
  for (const file of [...files].sort((a, b) => a.path.localeCompare(b.path))) {
    if (file.recipients === null) {
      problems.push({
        kind: "plaintext",
        subject: file.path,
        message: `${file.path}: no sops metadata (a plaintext file under secrets/)`,
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
    const current = unique(file.recipients);
    const wanted = unique(rule.ageRecipients);
    const added = wanted.filter((r) => !current.includes(r));
    const removed = current.filter((r) => !wanted.includes(r));
    const update = added.length > 0 || removed.length > 0;
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
          `${file.path}: recipients differ from .sops.yaml (${added.length} to add, ${removed.length} to remove)`,
      });
    }
  }
  for (const rule of config.rules) {
    if (!paths.some((p) => matches(rule, p))) {
      problems.push({
        kind: "orphan-rule",
        subject: rule.pathRegex ?? "(no path_regex)",
        message: `.sops.yaml creation rule ${rule.index + 1} (path_regex "${
          rule.pathRegex ?? ""
        }") matches no file under secrets/`,
      });
    }
  }
  for (const host of [...hostKeys.keys()].sort()) {
    if (!paths.includes(`secrets/${host}.yaml`)) {
      problems.push({
        kind: "host-without-file",
        subject: host,
        message: `host "${host}" has no secrets/${host}.yaml`,
      });
    }
  }
  return { configText, configChanged, files: actions, problems };
}
