// Pure plans for the secrets commands: each turns the repository's state and the command's
// arguments into the steps the executor runs, or throws a one-line reason before any change.
import { UsageError } from "../errors.ts";
import { HOST_NAME_RULE, isHostName } from "../host_name.ts";
import { isAgeRecipient, sshPublicKeyToAge } from "./age_keys.ts";
import { applyConfigEdits, matchRule, parseSopsConfig, type SopsConfig } from "./sops_yaml.ts";
import { hostKeyPath, type RepoState, SECRETS_DIR } from "./repo_state.ts";
import { blockingError, describeRule, type Grants, planRekey, type RekeyPlan } from "./plan.ts";
import type { Step, StepPlan } from "./executor.ts";
import { userFileOf } from "./users.ts";

/** A command's plan: the rekey it implies and the steps that carry it out. */
export interface CommandPlan {
  rekey: RekeyPlan;
  steps: StepPlan;
}

/** Options every plan takes. */
export interface PlanOptions {
  rotate: boolean;
}

/** The steps of a command from its rekey plan; `before`/`after` around the `.sops.yaml` write. */
export function stepsFor(
  command: string,
  state: RepoState,
  plan: RekeyPlan,
  extra: { before?: Step[]; after?: Step[]; skip?: string[] } = {},
): CommandPlan {
  const error = blockingError(plan);
  if (error !== undefined) throw error;
  const steps: Step[] = [...(extra.before ?? [])];
  if (plan.configText !== state.config.text) {
    steps.push({ kind: "write", path: ".sops.yaml", content: plan.configText, mode: 0o644 });
  }
  steps.push(...(extra.after ?? []));
  for (const f of plan.files) {
    if (!f.update || (extra.skip ?? []).includes(f.path)) continue;
    steps.push({
      kind: "rekey",
      path: f.path,
      rotate: f.rotate,
      added: f.added,
      removed: f.removed,
    });
  }
  return { rekey: plan, steps: { command, targetConfig: plan.configText, steps } };
}

/**
 * `rekey`: bring `.sops.yaml` and every file in step, and give each host with a key but no
 * `secrets/<host>.yaml` that file (empty, encrypted by its rule), as `host add` would: the
 * "host … has no secrets/<host>.yaml" that `rekey --check` reports is what a rekey mends.
 */
export function planRekeyCommand(state: RepoState, options: PlanOptions): CommandPlan {
  const paths = new Set(state.files.map((f) => f.path));
  const missing = [...state.hostKeys.keys()].sort().map((h) => `${SECRETS_DIR}/${h}.yaml`)
    .filter((p) => !paths.has(p));
  const files = [
    ...state.files,
    ...missing.map((path) => ({ path, metadata: { age: [], pgp: [], other: [] } })),
  ];
  const plan = planRekey({ ...state, files, rotate: options.rotate });
  const after: Step[] = plan.files.filter((f) => missing.includes(f.path)).map((f) => ({
    kind: "encrypt",
    path: f.path,
    content: "{}\n",
    recipients: f.wanted,
  }));
  return stepsFor("rekey", { ...state, files }, plan, { after, skip: missing });
}

function checkKind(kind: string, name: string): void {
  if (!isHostName(name)) {
    const rule = kind === "host" ? HOST_NAME_RULE : HOST_NAME_RULE.replace("a host", `an ${kind}`);
    throw new UsageError(`Invalid ${kind} name "${name}": ${rule}`);
  }
}

/** Who already holds `recipient`: an anchor or a host, or undefined. */
export function holderOf(state: RepoState, recipient: string, except?: string): string | undefined {
  const key = state.config.keys.find((k) =>
    k.anchor !== except && k.value.split(",").map((v) => v.trim()).includes(recipient)
  );
  if (key !== undefined) return `&${key.anchor ?? "(no anchor)"} (line ${key.line})`;
  const host = [...state.hostKeys].find(([h, r]) => r === recipient && `host_${h}` !== except);
  return host === undefined ? undefined : `host ${host[0]} (${hostKeyPath(host[0])})`;
}

/** The hand-written rules that keep `recipient` from files; the message names rule and line. */
function notReached(
  original: SopsConfig,
  plan: RekeyPlan,
  recipient: string,
  files: readonly string[],
  what: string,
  alias: string,
): string | undefined {
  const target = parseSopsConfig(plan.configText);
  const missing = plan.files.filter((f) => files.includes(f.path) && !f.wanted.includes(recipient));
  if (missing.length === 0) return undefined;
  return missing.map((f) => {
    // A hand-written rule is named by its line in the file as it is now, not as edited.
    const now = matchRule(original, f.path);
    const rule = now !== undefined && now.ownedName === undefined
      ? now
      : matchRule(target, f.path)!;
    return `${f.path} is governed by ${
      describeRule(rule)
    }; ${what} was not added — add *${alias} there or remove the rule`;
  }).join("; ");
}

/** `admin add <name> <age1…>`. */
export function planAdminAdd(
  state: RepoState,
  name: string,
  key: string,
  options: PlanOptions,
): CommandPlan {
  checkKind("admin", name);
  if (!isAgeRecipient(key)) {
    throw new UsageError(`Invalid age public key "${key}": expected age1…`);
  }
  const anchor = `admin_${name}`;
  const existing = state.config.keys.find((k) => k.anchor === anchor);
  if (existing) {
    throw new Error(
      `Cannot add admin "${name}": &${anchor} exists in .sops.yaml (line ${existing.line})`,
    );
  }
  const holder = holderOf(state, key);
  if (holder !== undefined) {
    throw new Error(
      `Cannot add admin "${name}": that key is already ${holder}; each admin needs its own key`,
    );
  }
  const config = parseSopsConfig(
    applyConfigEdits(state.config, { setAnchors: [{ anchor, value: key }] }),
  );
  const plan = planRekey({ ...state, config, rotate: options.rotate });
  const blocked = notReached(
    state.config,
    plan,
    key,
    plan.files.map((f) => f.path),
    `admin ${name}`,
    anchor,
  );
  if (blocked !== undefined) {
    throw new Error(
      `Cannot add admin "${name}": ${blocked} (and add - &${anchor} ${key} under keys:, then run deno task rekey); nothing was changed`,
    );
  }
  return stepsFor(`secrets admin add ${name}`, { ...state, config }, plan);
}

/** `admin remove <name>`. */
export function planAdminRemove(state: RepoState, name: string, options: PlanOptions): CommandPlan {
  checkKind("admin", name);
  const anchor = `admin_${name}`;
  const admins = state.config.keys.filter((k) => k.anchor?.startsWith("admin_"));
  if (!admins.some((k) => k.anchor === anchor)) {
    throw new Error(`Cannot remove admin "${name}": no &${anchor} in .sops.yaml`);
  }
  if (admins.length === 1) throw new Error(`Cannot remove admin "${name}": it is the last admin`);
  const plan = planRekey({ ...state, rotate: options.rotate }, { removeAdmins: [anchor] });
  return stepsFor(`secrets admin remove ${name}`, state, plan);
}

/** `host add|replace-key <name>` with the host's OpenSSH public key line. */
export function planHostKey(
  state: RepoState,
  name: string,
  keyLine: string,
  options: PlanOptions & {
    replace: boolean;
    fileExists: (path: string) => boolean;
    /** Give the new key the host's kept `secrets/<name>.yaml` (after `host remove`). */
    restore?: boolean;
  },
): CommandPlan {
  checkKind("host", name);
  const pub = hostKeyPath(name);
  const has = state.hostKeys.has(name) || options.fileExists(pub);
  let recipient: string;
  try {
    recipient = sshPublicKeyToAge(keyLine);
  } catch (error) {
    throw new Error(`Cannot use the key of host "${name}": ${(error as Error).message}`);
  }
  // The key already in its place (README: made in configurations/<host>/, then added from
  // there): adding it is adding that key, not replacing one.
  const ownKey = state.hostKeys.get(name) === recipient;
  if (has && !options.replace && !ownKey) {
    throw new Error(
      `Cannot add host "${name}": ${pub} holds another key; use host replace-key to replace it`,
    );
  }
  if (!has && options.replace) {
    throw new Error(`Cannot replace the key of host "${name}": no ${pub}`);
  }
  const file = `${SECRETS_DIR}/${name}.yaml`;
  const fileExists = state.files.some((f) => f.path === file);
  // Added already with this key (the command run twice): its file's rule names the key.
  const added = ownKey && fileExists && (matchRule(state.config, file)?.ageRecipients ?? [])
    .includes(recipient);
  if (!options.replace && added) {
    throw new Error(
      `Cannot add host "${name}": it is added already, with this key (${pub}); nothing to do (use host replace-key to give it another key)`,
    );
  }
  if (!options.replace && fileExists && !options.restore) {
    throw new Error(
      `Cannot add host "${name}": ${file} exists (kept when a host "${name}" was removed, or another file of that name); pass --restore to give the new key that file and nothing else, or pick another host name`,
    );
  }
  if (options.restore && (options.replace || !fileExists)) {
    throw new Error(
      `Cannot restore host "${name}": ${
        options.replace ? "--restore goes with host add" : `no ${file} to give back`
      }`,
    );
  }
  // The key it already has (an installer run twice, or a key made in its place): nothing to
  // write, the rekey still runs.
  const sameKey = ownKey;
  const holder = holderOf(state, recipient, `host_${name}`);
  if (holder !== undefined) {
    throw new Error(
      `Cannot use that key for host "${name}": it is already ${holder}; each host needs its own key`,
    );
  }
  const hostKeys = new Map([...state.hostKeys, [name, recipient]]);
  // A host without its own secrets file gets one, on add and on replace-key alike (a host whose
  // file was deleted has no other way back to one).
  const files = fileExists
    ? state.files
    : [...state.files, { path: file, metadata: { age: [], pgp: [], other: [] } }];
  // A kept file is given back only when asked for, by name (its rule no longer names the host).
  const grants: Grants = new Map(options.restore ? [[file, { add: [name], remove: [] }]] : []);
  const plan = planRekey({ ...state, hostKeys, files, rotate: options.rotate }, { grants });
  const blocked = notReached(state.config, plan, recipient, [file], name, `host_${name}`);
  if (blocked !== undefined) {
    throw new Error(
      `Cannot ${
        options.replace ? "replace the key of" : "add"
      } host "${name}": ${blocked}; nothing was changed`,
    );
  }
  const command = `secrets host ${options.replace ? "replace-key" : "add"} ${name}${
    options.restore ? " --restore" : ""
  }`;
  const before: Step[] = sameKey
    ? []
    : [{ kind: "write", path: pub, content: keyLine, mode: 0o644 }];
  const wanted = plan.files.find((f) => f.path === file)?.wanted ?? [];
  const after: Step[] = fileExists
    ? []
    : [{ kind: "encrypt", path: file, content: "{}\n", recipients: wanted }];
  return stepsFor(command, { ...state, hostKeys, files }, plan, {
    before,
    after,
    skip: after.map((s) => s.path),
  });
}

/** `grant <file> <host…>` and `revoke <file> <host…>`. */
export function planGrant(
  state: RepoState,
  file: string,
  hosts: readonly string[],
  options: PlanOptions & { revoke: boolean },
): CommandPlan {
  const verb = options.revoke ? "revoke" : "grant";
  const path = file.replace(/^\.\//, "");
  const userFile = userFileOf(path);
  if (userFile !== undefined) {
    throw new Error(
      `Cannot ${verb} ${path}: it is ${userFile.user}'s file on ${userFile.host}, which only they, that host and the admins read; use \`secrets user ${verb} ${userFile.user} ${userFile.host}\``,
    );
  }
  if (!state.files.some((f) => f.path === path)) {
    throw new Error(`Cannot ${verb} ${file}: no such file under ${SECRETS_DIR}/`);
  }
  for (const host of hosts) {
    if (!state.hostKeys.has(host)) {
      throw new Error(
        `Cannot ${verb} ${path} to "${host}": no such host (hosts: ${
          [...state.hostKeys.keys()].join(", ") || "none"
        })`,
      );
    }
  }
  const name = path.match(new RegExp(`^${SECRETS_DIR}/([A-Za-z0-9_-]+)\\.yaml$`))?.[1];
  const rule = matchRule(state.config, path);
  if (rule !== undefined && rule.ownedName === undefined) {
    throw new Error(
      `Cannot ${verb} ${path}: it is governed by ${describeRule(rule)}; ${
        options.revoke ? "remove" : "add"
      } ${hosts.map((h) => `*host_${h}`).join(", ")} there`,
    );
  }
  if (name === undefined) {
    throw new Error(
      `Cannot ${verb} ${path}: only ${SECRETS_DIR}/<name>.yaml files get generated rules; write a rule for it in .sops.yaml`,
    );
  }
  if (options.revoke && hosts.includes(name)) {
    throw new Error(`Cannot revoke ${path} from "${name}": it is that host's own file`);
  }
  const grants: Grants = new Map([[path, {
    add: options.revoke ? [] : [...hosts],
    remove: options.revoke ? [...hosts] : [],
  }]]);
  const plan = planRekey({ ...state, rotate: options.rotate }, { grants });
  return stepsFor(`secrets ${verb} ${path} ${hosts.join(" ")}`, state, plan);
}
