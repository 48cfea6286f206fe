// The pure plan of `deno task init`: from the repository as cloned (its example admin, dev-vm's
// committed key, the example user and hosts) to the new owner's, as two lists of steps for the
// sops executor. The first re-encrypts every file with a new data key for the new recipients
// (the example keys still present, so a killed run can be finished); the second deletes the
// example private keys once nothing needs them.
import YAML from "yaml";
import { isHostName } from "../host_name.ts";
import {
  applyConfigEdits,
  blockingError,
  hostKeyPath,
  parseSopsConfig,
  planRekey,
  readSopsMetadata,
  type RekeyPlan,
  type RepoState,
  type SecretFile,
  SECRETS_DIR,
  sshPublicKeyToAge,
  type Step,
  type StepPlan,
  userFileOf,
} from "../sops/mod.ts";
import { planIndexes, type PlannedIndex } from "../index/plan.ts";

/** The example admin's age key file, committed on purpose (its private half is public). */
export const EXAMPLE_ADMIN_KEY_FILE = "configurations/dev-vm/EXAMPLE-admin-age-key.txt";
/** The example admin's anchor in `.sops.yaml` and name in `lib/admins.nix`. */
export const EXAMPLE_ADMIN = "example";
/** dev-vm's committed example host key (its private half is public). */
export const EXAMPLE_HOST_KEY_FILE = "configurations/dev-vm/example_ssh_host_ed25519_key";
/** The development VM. */
export const DEV_VM = "dev-vm";
/** Where the VM reads its host key (configurations/dev-vm/default.nix; `.data/` is ignored). */
export const DEV_VM_KEY_FILE = ".data/dev-vm-keys/ssh_host_ed25519_key";
/** The example user (on desk1) and the example hosts. */
export const EXAMPLE_USER = "sam";
export const EXAMPLE_HOSTS = ["desk1", "nas1"] as const;
/** The file of the fleet's admins' SSH keys. */
export const ADMINS_NIX = "lib/admins.nix";

/** What to do with dev-vm, whose committed key is public. */
export type DevVmChoice = "new-key" | "remove";

/** The choices, from flags or answers. */
export interface InitChoices {
  /** The new admin's name: `&admin_<name>` in `.sops.yaml`, `<name>` in `lib/admins.nix`. */
  adminName: string;
  /** The new admin's age public key. */
  adminRecipient: string;
  /** The admin's OpenSSH public key line for `lib/admins.nix`, if any. */
  sshKeyLine?: string;
  devVm: DevVmChoice;
  /** dev-vm's new public key line (new-key), made before the plan. */
  devVmPublicLine?: string;
  keepExamples: boolean;
  keepExampleUser: boolean;
}

/** The repository as init reads it: plain data. */
export interface InitInput {
  state: RepoState;
  /** Every file under configurations/, modules/, overlays/, shells/ (for the indexes). */
  layout: readonly string[];
  /** Current text of each index file (undefined: absent). */
  indexes: ReadonlyMap<string, string | undefined>;
  /** Text of lib/admins.nix. */
  adminsNix: string | undefined;
  /** Text of configurations/desk1/default.nix, when it exists. */
  desk1Nix: string | undefined;
  /** The example admin's age recipient, when its key file is still there. */
  exampleAdminRecipient: string | undefined;
  /** The age recipient of dev-vm's committed example host key, when it is still there. */
  exampleHostRecipient: string | undefined;
  /**
   * Recipients of the example keys as git last committed them (HEAD): after a run deleted the
   * key files, they still say which committed files were public.
   */
  committedPublicKeys: readonly string[];
  /** Committed versions (git HEAD) of files under secrets/: they say what was public. */
  committedSecrets: ReadonlyMap<string, string>;
  /** Text of each file under secrets/ (encrypted; key names are plain text in sops YAML). */
  secretTexts: ReadonlyMap<string, string>;
}

/** One thing init changes, for the summary and --json. */
export type InitChange =
  | { kind: "admin-added"; name: string; recipient: string }
  | { kind: "admin-removed"; name: string }
  | { kind: "ssh-key-written"; path: string }
  | { kind: "dev-vm-new-key"; publicKeyFile: string }
  | { kind: "dev-vm-removed" }
  | { kind: "user-removed"; name: string }
  | { kind: "host-removed"; name: string }
  | { kind: "rotated"; path: string }
  | { kind: "deleted"; path: string }
  | { kind: "index-written"; path: string };

/** A secret value anyone with the example keys could read, and how to replace it. */
export interface PublicValue {
  path: string;
  /** sops's index of the value: `["kopia-password"]`. */
  key: string;
  command: string;
}

/** The whole plan. */
export interface InitPlan {
  /** The re-encryption: `.sops.yaml`, lib files, removals, indexes and every rotation. */
  keys: StepPlan;
  /** Deleting the example private keys, after `keys` has run. */
  cleanup: StepPlan;
  changes: InitChange[];
  /** Values that were public and stay in the repository: to replace by hand. */
  publicValues: PublicValue[];
  /** Things init leaves to the owner, one line each. */
  notes: string[];
}

/** A name for `&admin_<name>` and `lib/admins.nix` from a person's name (git's user.name). */
export function sanitizeAdminName(raw: string): string | undefined {
  const name = raw.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase()
    .replace(/[^a-z0-9]+/g, "-").replace(/^[^a-z]+/, "").replace(/-+$/, "").slice(0, 63)
    .replace(/-+$/, "");
  return isHostName(name) && name !== EXAMPLE_ADMIN ? name : undefined;
}

/** The `lib/admins.nix` of one admin. */
export function renderAdminsNix(name: string, sshKeyLine: string): string {
  const key = sshKeyLine.trim().replaceAll("\\", "\\\\").replaceAll('"', '\\"')
    .replaceAll("${", "\\${");
  return `# The people who administer the fleet: SSH keys authorised for root and the
# admin user on every host. Pure data. Written by \`deno task init\`; add a person as
# another attribute, with the public keys of their own machines.
{
  ${name} = {
    sshKeys = [
      "${key}"
    ];
  };
}
`;
}

/** desk1's lines that declare the example user, as the repository ships them. */
const DESK1_SAM =
  /\n {2}# A person who uses desk1 but is not an admin\.[^\n]*\n(?: {2}#[^\n]*\n)*(?: {2}users\.users\.sam = \{\n(?: {4}[^\n]*\n)* {2}\};\n)(?: {2}devops\.userSecrets\.sam = \{ \};\n)/;

/** Removes the comment block that starts with `# EXAMPLE <what>` (and the lines under it). */
function dropExampleComment(text: string, what: string): string {
  return text.replace(
    new RegExp(`^[ \\t]*# EXAMPLE ${what}[^\\n]*\\n(?:[ \\t]*#[^\\n]*\\n)*`, "m"),
    "",
  );
}

/** The value keys of a sops YAML file (sops keeps key names in plain text), as sops indexes. */
export function valueKeys(text: string): string[] {
  let doc: unknown;
  try {
    doc = YAML.parse(text);
  } catch {
    return [];
  }
  const out: string[] = [];
  const walk = (value: unknown, index: string) => {
    if (value !== null && typeof value === "object" && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
        if (index === "" && k === "sops") continue;
        walk(v, `${index}[${JSON.stringify(k)}]`);
      }
    } else if (index !== "") out.push(index);
  };
  walk(doc, "");
  return out;
}

/** How to replace one value (a removed user's password is taken away, not replaced). */
export function replaceCommand(
  path: string,
  key: string,
  options: { hosts: readonly string[]; removedUsers?: readonly string[] },
): string {
  const password = key.match(/^\["passwords"\]\["([^"]+)"\]$/)?.[1];
  const host = path.match(new RegExp(`^${SECRETS_DIR}/([A-Za-z0-9_-]+)\\.yaml$`))?.[1];
  if (password !== undefined && host !== undefined && options.hosts.includes(host)) {
    return (options.removedUsers ?? []).includes(password)
      ? `deno task secrets password ${password} --remove --host ${host}`
      : `deno task secrets password ${password} --host ${host}`;
  }
  return `sops edit ${path}`;
}

/** Files under `configurations/<host>/` and secrets of the hosts init removes. */
function removedHostFiles(input: InitInput, hosts: readonly string[]): string[] {
  const inFolders = input.layout.filter((p) =>
    hosts.some((h) => p.startsWith(`configurations/${h}/`))
  );
  const secrets = input.state.files.map((f) => f.path).filter((p) => {
    const user = userFileOf(p);
    return hosts.some((h) => p === `${SECRETS_DIR}/${h}.yaml` || user?.host === h);
  });
  return [...inFolders, ...secrets];
}

/** Refuses choices no plan can carry out (one line; run before anything is made). */
export function checkChoices(
  input: Pick<InitInput, "exampleAdminRecipient" | "exampleHostRecipient" | "committedPublicKeys">,
  choices: Pick<InitChoices, "adminRecipient" | "keepExamples" | "keepExampleUser">,
): void {
  const publicKeys = [
    input.exampleAdminRecipient,
    input.exampleHostRecipient,
    ...input.committedPublicKeys,
  ];
  if (publicKeys.includes(choices.adminRecipient)) {
    throw new Error(
      `Cannot make ${choices.adminRecipient} your admin key: it is the committed example key, which anyone can read; pass another --admin-key-file or none (init makes one); nothing was changed`,
    );
  }
  if (choices.keepExampleUser && !choices.keepExamples) {
    throw new Error(
      `Cannot keep the example user "${EXAMPLE_USER}" without its host desk1: pass --keep-examples too; nothing was changed`,
    );
  }
}

/**
 * Plans init. Pure; throws one line (nothing changed) for a plan that cannot run. On a repository
 * init already made its owner's, both step lists are empty.
 */
export function planInit(input: InitInput, choices: InitChoices): InitPlan {
  checkChoices(input, choices);
  const { state } = input;
  const changes: InitChange[] = [];
  const notes: string[] = [];
  const publicKeys = new Set(
    [input.exampleAdminRecipient, input.exampleHostRecipient].filter((k) => k !== undefined),
  );

  // Who: the new admin in, the example admin out (when its key is the public one).
  const anchors = new Map(state.config.keys.map((k) => [k.anchor, k.value]));
  const mine = state.config.keys.find((k) => k.value === choices.adminRecipient);
  const adminAnchor = mine?.anchor ?? `admin_${choices.adminName}`;
  if (mine === undefined && anchors.has(adminAnchor)) {
    throw new Error(
      `Cannot add admin "${choices.adminName}": &${adminAnchor} in .sops.yaml holds another key; pass --name <another name>`,
    );
  }
  const exampleAnchor = `admin_${EXAMPLE_ADMIN}`;
  const removeAdmins = anchors.has(exampleAnchor) &&
      (input.exampleAdminRecipient === undefined ||
        anchors.get(exampleAnchor) === input.exampleAdminRecipient)
    ? [exampleAnchor]
    : [];
  // Hosts and users that go.
  const removedHosts: string[] = choices.keepExamples
    ? []
    : EXAMPLE_HOSTS.filter((h) =>
      input.layout.some((p) => p.startsWith(`configurations/${h}/`)) ||
      state.files.some((f) => f.path === `${SECRETS_DIR}/${h}.yaml`)
    );
  const userAnchor = `user_${EXAMPLE_USER}`;
  const userFiles = state.files.map((f) => f.path).filter((p) =>
    userFileOf(p)?.user === EXAMPLE_USER
  );
  const removeUser = !choices.keepExampleUser &&
    (anchors.has(userAnchor) || userFiles.length > 0);
  const removeFiles = new Set([
    ...removedHostFiles(input, removedHosts),
    ...(removeUser ? userFiles : []),
  ]);
  // dev-vm: its committed key is public while configurations/dev-vm/ holds the private half.
  const hostKeys = new Map([...state.hostKeys].filter(([h]) => !removedHosts.includes(h)));
  const before: Step[] = [];
  const devVmPublic = input.exampleHostRecipient !== undefined &&
    hostKeys.get(DEV_VM) === input.exampleHostRecipient;
  if (devVmPublic && choices.devVm === "new-key") {
    if (choices.devVmPublicLine === undefined) throw new Error("dev-vm's new key was not made");
    hostKeys.set(DEV_VM, sshPublicKeyToAge(choices.devVmPublicLine));
    before.push({
      kind: "write",
      path: hostKeyPath(DEV_VM),
      content: `${choices.devVmPublicLine.trim()}\n`,
      mode: 0o644,
    });
    changes.push({ kind: "dev-vm-new-key", publicKeyFile: hostKeyPath(DEV_VM) });
  } else if (devVmPublic) {
    hostKeys.delete(DEV_VM);
    before.push({ kind: "remove", path: hostKeyPath(DEV_VM) });
    changes.push({ kind: "dev-vm-removed" });
    notes.push(
      `dev-vm reads no secrets now (${SECRETS_DIR}/${DEV_VM}.yaml is the admins' only): give it a key with \`deno task secrets host add ${DEV_VM} --key-file <pub> --restore\``,
    );
  }
  for (const path of [...removeFiles].sort()) before.push({ kind: "remove", path });
  for (const h of removedHosts) changes.push({ kind: "host-removed", name: h });
  if (removeUser) changes.push({ kind: "user-removed", name: EXAMPLE_USER });
  // desk1 kept, sam gone: desk1 no longer declares sam.
  if (removeUser && input.desk1Nix !== undefined && !removedHosts.includes("desk1")) {
    const edited = input.desk1Nix.replace(DESK1_SAM, "");
    if (edited !== input.desk1Nix) {
      before.push({
        kind: "write",
        path: "configurations/desk1/default.nix",
        content: edited,
        mode: 0o644,
      });
    } else if (/\bsam\b/.test(input.desk1Nix)) {
      notes.push(
        `configurations/desk1/default.nix still declares the user ${EXAMPLE_USER}: remove users.users.${EXAMPLE_USER} and devops.userSecrets.${EXAMPLE_USER}`,
      );
    }
  }
  // lib/admins.nix: the example's key replaced by yours.
  const adminsExample = input.adminsNix !== undefined &&
    new RegExp(`^\\s*${EXAMPLE_ADMIN}\\s*=`, "m").test(input.adminsNix);
  if (adminsExample && choices.sshKeyLine !== undefined) {
    before.push({
      kind: "write",
      path: ADMINS_NIX,
      content: renderAdminsNix(choices.adminName, choices.sshKeyLine),
      mode: 0o644,
    });
    changes.push({ kind: "ssh-key-written", path: ADMINS_NIX });
  } else if (adminsExample) {
    notes.push(
      `${ADMINS_NIX} still holds the example SSH key: run init again with --ssh-key-file <your .pub> (or edit it)`,
    );
  }
  // .sops.yaml: the plan of a rekey with the new admin in, every example out.
  const files: SecretFile[] = state.files.filter((f) => !removeFiles.has(f.path));
  const withAdmin = mine === undefined
    ? parseSopsConfig(
      applyConfigEdits(state.config, {
        setAnchors: [{ anchor: adminAnchor, value: choices.adminRecipient }],
      }),
    )
    : state.config;
  const rekey: RekeyPlan = planRekey(
    { config: withAdmin, hostKeys, files, rotate: true },
    {
      removeAdmins,
      ...(removeUser && anchors.has(userAnchor) ? { removeUsers: [userAnchor] } : {}),
    },
  );
  const blocked = blockingError(rekey);
  if (blocked !== undefined) throw blocked;
  let configText = rekey.configText;
  if (removeAdmins.length > 0) configText = dropExampleComment(configText, "admin key");
  if (removeUser) configText = dropExampleComment(configText, "user");
  if (mine === undefined) {
    changes.push({
      kind: "admin-added",
      name: adminAnchor.replace(/^admin_/, ""),
      recipient: choices.adminRecipient,
    });
  }
  if (removeAdmins.length > 0) changes.push({ kind: "admin-removed", name: EXAMPLE_ADMIN });
  const steps: Step[] = [];
  if (configText !== state.config.text) {
    steps.push({ kind: "write", path: ".sops.yaml", content: configText, mode: 0o644 });
  }
  steps.push(...before);
  // The indexes of the layout as it will be.
  const layout = input.layout.filter((p) => !removeFiles.has(p));
  for (const index of planIndexes(layout) as PlannedIndex[]) {
    if (input.indexes.get(index.path) !== index.content) {
      steps.push({ kind: "write", path: index.path, content: index.content, mode: 0o644 });
      changes.push({ kind: "index-written", path: index.path });
    }
  }
  // Every file a public key could read gets a new data key; every other file that needs new
  // recipients is re-keyed as a rekey would.
  for (const f of rekey.files) {
    const wasPublic = f.current.some((r) => publicKeys.has(r));
    if (!f.update && !wasPublic) continue;
    steps.push({ kind: "rekey", path: f.path, rotate: true, added: f.added, removed: f.removed });
    changes.push({ kind: "rotated", path: f.path });
  }
  const cleanup: Step[] = [];
  for (const path of [EXAMPLE_ADMIN_KEY_FILE, EXAMPLE_HOST_KEY_FILE]) {
    const present = path === EXAMPLE_ADMIN_KEY_FILE
      ? input.exampleAdminRecipient !== undefined
      : input.exampleHostRecipient !== undefined;
    if (present) {
      cleanup.push({ kind: "remove", path });
      changes.push({ kind: "deleted", path });
    }
  }
  for (const path of removeFiles) changes.push({ kind: "deleted", path });
  return {
    keys: { command: "init", targetConfig: configText, steps },
    cleanup: { command: "init (example keys)", targetConfig: configText, steps: cleanup },
    changes,
    publicValues: publicValues(
      input,
      new Set([...publicKeys, ...input.committedPublicKeys]),
      removeFiles,
      anchors.get(exampleAnchor),
      choices.keepExampleUser ? [] : [EXAMPLE_USER],
    ),
    notes,
  };
}

/**
 * The values a public key could read, in the files that stay: from each file as it is and as
 * git last committed it (a re-run after the re-encryption still names them until a commit).
 */
function publicValues(
  input: InitInput,
  publicKeys: ReadonlySet<string>,
  removed: ReadonlySet<string>,
  exampleAdmin: string | undefined,
  removedUsers: readonly string[],
): PublicValue[] {
  const isPublic = (text: string | undefined) => {
    if (text === undefined) return false;
    const age = readSopsMetadata(text)?.age ?? [];
    return age.some((r) => publicKeys.has(r) || r === exampleAdmin);
  };
  const out: PublicValue[] = [];
  const hosts = [...input.state.hostKeys.keys()];
  for (const f of [...input.state.files].sort((a, b) => a.path.localeCompare(b.path))) {
    if (removed.has(f.path)) continue;
    const now = input.secretTexts.get(f.path);
    const committed = input.committedSecrets.get(f.path);
    if (!isPublic(now) && !isPublic(committed)) continue;
    const keys = new Set([...valueKeys(committed ?? ""), ...valueKeys(now ?? "")]);
    for (const key of [...keys].sort()) {
      const command = replaceCommand(f.path, key, { hosts, removedUsers });
      out.push({ path: f.path, key, command });
    }
  }
  return out;
}
