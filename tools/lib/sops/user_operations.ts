// Pure plans for the user commands (`secrets user add|remove|grant|revoke`) and `secrets host
// remove`: each turns the repository's state into the steps the executor runs, or throws a
// one-line reason before any change.
import { UsageError } from "../errors.ts";
import { HOST_NAME_RULE, isHostName } from "../host_name.ts";
import { isAgeRecipient } from "./age_keys.ts";
import { applyConfigEdits, matchRule, parseSopsConfig } from "./sops_yaml.ts";
import { hostKeyPath, type RepoState } from "./repo_state.ts";
import { describeRule, planRekey } from "./plan.ts";
import { type CommandPlan, holderOf, type PlanOptions, stepsFor } from "./operations.ts";
import { userAnchor, userFileOf, userFilePath } from "./users.ts";

function checkUserName(name: string): void {
  if (!isHostName(name)) {
    throw new UsageError(
      `Invalid user name "${name}": ${HOST_NAME_RULE.replace("a host", "a user")}`,
    );
  }
}

function userExists(state: RepoState, user: string): boolean {
  return state.config.keys.some((k) => k.anchor === userAnchor(user));
}

function users(state: RepoState): string[] {
  return state.config.keys.flatMap((k) =>
    k.anchor?.startsWith("user_") ? [k.anchor.slice("user_".length)] : []
  );
}

function requireUser(state: RepoState, user: string, action: string): void {
  checkUserName(user);
  if (!userExists(state, user)) {
    throw new Error(
      `Cannot ${action}: no user "${user}" in .sops.yaml (users: ${
        users(state).join(", ") || "none"
      }); add one with secrets user add`,
    );
  }
}

/** `user add <name> <age1…>`: `recipient` is the age key, converted from SSH by the caller. */
export function planUserAdd(
  state: RepoState,
  name: string,
  recipient: string,
  options: PlanOptions,
): CommandPlan {
  checkUserName(name);
  if (!isAgeRecipient(recipient)) {
    throw new UsageError(`Invalid age public key "${recipient}": expected age1…`);
  }
  const anchor = userAnchor(name);
  const existing = state.config.keys.find((k) => k.anchor === anchor);
  if (existing) {
    throw new Error(
      `Cannot add user "${name}": &${anchor} exists in .sops.yaml (line ${existing.line})`,
    );
  }
  const holder = holderOf(state, recipient);
  if (holder !== undefined) {
    throw new Error(
      `Cannot add user "${name}": that key is already ${holder}; each person and host needs its own key (an admin reads every file and needs no user entry)`,
    );
  }
  const config = parseSopsConfig(
    applyConfigEdits(state.config, { setAnchors: [{ anchor, value: recipient }] }),
  );
  const plan = planRekey({ ...state, config, rotate: options.rotate });
  return stepsFor(`secrets user add ${name}`, state, plan);
}

/** `user remove <name>`: every file the user could read is re-keyed without them and rotated. */
export function planUserRemove(state: RepoState, name: string, options: PlanOptions): CommandPlan {
  requireUser(state, name, `remove user "${name}"`);
  const plan = planRekey({ ...state, rotate: options.rotate }, {
    removeUsers: [userAnchor(name)],
  });
  return stepsFor(`secrets user remove ${name}`, state, plan);
}

/**
 * `user grant|revoke <user> <host>`. A revoke keeps the file for the admins; with `deleteFile`
 * (asked for by name) it deletes the file and its rule instead, granted or not.
 */
export function planUserGrant(
  state: RepoState,
  user: string,
  host: string,
  options: PlanOptions & { revoke: boolean; deleteFile?: boolean },
): CommandPlan {
  const verb = options.revoke ? "revoke" : "grant";
  // A removed user's kept files can still be deleted.
  if (options.revoke && options.deleteFile) checkUserName(user);
  else requireUser(state, user, `${verb} ${user} on ${host}`);
  if (!isHostName(host)) throw new UsageError(`Invalid host name "${host}": ${HOST_NAME_RULE}`);
  const path = userFilePath(user, host);
  const file = state.files.find((f) => f.path === path);
  const rule = matchRule(state.config, path);
  if (rule !== undefined && rule.ownedName === undefined) {
    throw new Error(
      `Cannot ${verb} ${path}: it is governed by ${
        describeRule(rule)
      }, which decides who reads it; remove that rule (or narrow its path_regex) first`,
    );
  }
  if (options.revoke) {
    if (file === undefined) throw new Error(`Cannot revoke: no ${path}`);
    if (options.deleteFile) {
      const files = state.files.filter((f) => f.path !== path);
      const plan = planRekey({ ...state, files, rotate: options.rotate });
      return stepsFor(`secrets user revoke ${user} ${host} --delete`, { ...state, files }, plan, {
        before: [{ kind: "remove", path }],
      });
    }
    if (!rule?.aliases.includes(userAnchor(user))) {
      throw new Error(
        `Cannot revoke: ${user} is not granted ${path} (its rule does not name them); --delete deletes the file`,
      );
    }
  } else if (!state.hostKeys.has(host)) {
    throw new Error(
      `Cannot grant ${user} on "${host}": no such host (hosts: ${
        [...state.hostKeys.keys()].join(", ") || "none"
      })`,
    );
  }
  const files = file !== undefined
    ? state.files
    : [...state.files, { path, metadata: { age: [], pgp: [], other: [] } }];
  const plan = planRekey({ ...state, files, rotate: options.rotate }, {
    userGrants: new Map([[path, verb]]),
  });
  const wanted = plan.files.find((f) => f.path === path)?.wanted ?? [];
  const created = file === undefined
    ? [{ kind: "encrypt" as const, path, content: "{}\n", recipients: wanted }]
    : [];
  return stepsFor(`secrets user ${verb} ${user} ${host}`, { ...state, files }, plan, {
    after: created,
    skip: created.map((s) => s.path),
  });
}

/** `host remove <name>`: its key file goes, and its recipients from every file, rotated. */
export function planHostRemove(state: RepoState, name: string, options: PlanOptions): CommandPlan {
  if (!isHostName(name)) throw new UsageError(`Invalid host name "${name}": ${HOST_NAME_RULE}`);
  if (!state.hostKeys.has(name)) {
    const stale = state.config.keys.some((k) => k.anchor === `host_${name}`);
    throw new Error(
      `Cannot remove host "${name}": no ${hostKeyPath(name)} ${
        stale
          ? "(its key file is gone already; run deno task rekey to take its key out of every file)"
          : `(hosts: ${[...state.hostKeys.keys()].join(", ") || "none"})`
      }`,
    );
  }
  const hostKeys = new Map([...state.hostKeys].filter(([h]) => h !== name));
  const plan = planRekey({ ...state, hostKeys, rotate: options.rotate });
  return stepsFor(`secrets host remove ${name}`, { ...state, hostKeys }, plan, {
    before: [{ kind: "remove", path: hostKeyPath(name) }],
  });
}

/** The user files of a host, for what `host remove` tells people. */
export function userFilesOfHost(state: RepoState, host: string): string[] {
  return state.files.map((f) => f.path).filter((p) => userFileOf(p)?.host === host);
}

/** Whether `user` is granted `host`'s user file by the rule in `configText`. */
export function isGranted(configText: string, user: string, host: string): boolean {
  return matchRule(parseSopsConfig(configText), userFilePath(user, host))?.aliases.includes(
    userAnchor(user),
  ) ?? false;
}
