// Makes the repository yours in one re-runnable step: your admin age key in, the example admin
// out, dev-vm's public key replaced (or dev-vm taken off), every data key rotated, the example
// user and hosts removed, your SSH key in lib/admins.nix, the indexes written. Run: deno task init
import { ed25519 } from "@noble/curves/ed25519.js";
import { base64 } from "@scure/base";
import { newProgram, printResult, runMain, runnerFor } from "../lib/cli.ts";
import type { CommonOptions } from "../lib/cli.ts";
import { UsageError } from "../lib/errors.ts";
import { pathExists, readTextIfExists } from "../lib/fs.ts";
import { ask } from "../lib/prompt.ts";
import { findRepoRoot, userPath } from "../lib/repo.ts";
import { unifiedDiff } from "../lib/diff.ts";
import type { Runner } from "../lib/runner.ts";
import {
  acquireLock,
  describeRecovery,
  describeStep,
  ed25519PublicKeyToAge,
  executeSteps,
  JOURNAL_DIR,
  parseSshEd25519PrivateKey,
  readRepoState,
  recover,
  type Recovery,
  sshPublicKeyToAge,
  type StepEvent,
} from "../lib/sops/mod.ts";
import { INDEX_SPECS, SCANNED_FOLDERS } from "../lib/index/specs.ts";
import { walkFolders } from "../lib/index/scan.ts";
import {
  checkChoices,
  DEV_VM,
  DEV_VM_KEY_FILE,
  type DevVmChoice,
  EXAMPLE_ADMIN_KEY_FILE,
  EXAMPLE_HOST_KEY_FILE,
  EXAMPLE_HOSTS,
  EXAMPLE_USER,
  type InitChange,
  type InitChoices,
  type InitInput,
  type InitPlan,
  planInit,
  type PublicValue,
  sanitizeAdminName,
} from "../lib/init/mod.ts";

/** Seams for tests: where a kill-at-any-moment test stops the process. */
export interface MainHooks {
  onEvent?: (event: StepEvent) => void | Promise<void>;
}

interface InitOptions extends CommonOptions {
  name?: string;
  adminKeyFile?: string;
  sshKeyFile?: string;
  devVm?: string;
  keepExamples?: boolean;
  keepExampleUser?: boolean;
  yes?: boolean;
}

/** What init did, for --json. */
export interface InitResult {
  nothingToDo: boolean;
  recovery: Recovery;
  adminKeyFile: string;
  changes: InitChange[];
  publicValues: PublicValue[];
  notes: string[];
}

const DEV_VM_CHOICES: readonly DevVmChoice[] = ["new-key", "remove"];

function home(): string {
  const dir = Deno.env.get("HOME");
  if (dir === undefined) throw new UsageError("HOME is not set: pass --admin-key-file");
  return dir;
}

/** A file the user named: its text, or a one-line error naming it and the cause. */
async function readUserFile(what: string, path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    const cause = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : (error as Error).message;
    throw new Error(`Cannot read ${what} ${path}: ${cause}; nothing was changed`);
  }
}

/** Opens the file to read (and reads nothing): a one-line error names it and the cause. */
async function checkReadable(what: string, path: string): Promise<void> {
  try {
    (await Deno.open(path, { read: true })).close();
  } catch (error) {
    const cause = error instanceof Deno.errors.NotFound
      ? "no such file"
      : error instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : (error as Error).message;
    throw new Error(`Cannot read ${what} ${path}: ${cause}; nothing was changed`);
  }
}

/** An age public key that names no key on disk: what a --dry-run plans with. */
function throwawayRecipient(): string {
  return ed25519PublicKeyToAge(ed25519.getPublicKey(ed25519.utils.randomSecretKey()));
}

/** An OpenSSH ed25519 public key line for a throwaway key (--dry-run). */
function throwawaySshLine(): string {
  const pub = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
  const type = new TextEncoder().encode("ssh-ed25519");
  const blob = new Uint8Array(4 + type.length + 4 + pub.length);
  const view = new DataView(blob.buffer);
  view.setUint32(0, type.length);
  blob.set(type, 4);
  view.setUint32(4 + type.length, pub.length);
  blob.set(pub, 8 + type.length);
  return `ssh-ed25519 ${base64.encode(blob)} root@${DEV_VM}`;
}

/** The age recipient of an age identity file, by age-keygen; the first one if it has several. */
async function ageRecipientOf(runner: Runner, file: string, what: string): Promise<string> {
  const out = await runner.run({ argv: ["age-keygen", "-y", file], okCodes: [1] });
  const recipient = out.stdout.split("\n").find((l) => l.startsWith("age1"));
  if (out.code !== 0 || recipient === undefined) {
    const said = out.stderr.trim().split("\n")[0] || "no age identity in it";
    throw new Error(
      `Cannot use ${what} ${file}: not an age key (age-keygen says: ${said}); nothing was changed`,
    );
  }
  return recipient.trim();
}

/** The age recipient of an identity given as text (a committed key), by age-keygen. */
async function ageRecipientOfText(runner: Runner, text: string): Promise<string | undefined> {
  const out = await runner.run({ argv: ["age-keygen", "-y"], stdin: text, okCodes: [1] });
  return out.code === 0
    ? out.stdout.split("\n").find((l) => l.startsWith("age1"))?.trim()
    : undefined;
}

/** The admin key: --admin-key-file, else $SOPS_AGE_KEY_FILE or sops's default (made if absent). */
async function adminKey(
  runner: Runner,
  opts: InitOptions,
  options: { create: boolean },
): Promise<{ file: string; recipient: string; exists: boolean }> {
  if (opts.adminKeyFile !== undefined) {
    const file = userPath(opts.adminKeyFile);
    await checkReadable("admin key", file);
    return { file, recipient: await ageRecipientOf(runner, file, "admin key"), exists: true };
  }
  const env = Deno.env.get("SOPS_AGE_KEY_FILE");
  const file = env === undefined ? `${home()}/.config/sops/age/keys.txt` : userPath(env);
  if (await pathExists(file)) {
    await checkReadable("admin key", file);
    return { file, recipient: await ageRecipientOf(runner, file, "admin key"), exists: true };
  }
  if (!options.create) {
    return { file, recipient: throwawayRecipient(), exists: false };
  }
  await Deno.mkdir(file.replace(/\/[^/]+$/, "") || "/", { recursive: true, mode: 0o700 });
  await runner.run({ argv: ["age-keygen", "-o", file], mutates: true });
  await Deno.chmod(file, 0o600);
  runner.log(`Made your admin age key ${file} (mode 0600): keep it safe, it decrypts everything`);
  return {
    file,
    recipient: await ageRecipientOf(runner, file, "admin key"),
    exists: true,
  };
}

const SSH_PUBLIC_LINE =
  /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( .*)?$/;

/** Your SSH public key line: --ssh-key-file, else ~/.ssh/id_ed25519.pub when there is one. */
async function sshKeyLine(runner: Runner, opts: InitOptions): Promise<string | undefined> {
  let file: string;
  if (opts.sshKeyFile !== undefined) file = userPath(opts.sshKeyFile);
  else {
    file = `${home()}/.ssh/id_ed25519.pub`;
    if (!await pathExists(file)) return undefined;
  }
  const text = (await readUserFile("SSH key", file)).trim();
  if (text.includes("\n") || !SSH_PUBLIC_LINE.test(text)) {
    throw new Error(
      `Cannot use SSH key ${file}: not one OpenSSH public key line (give the .pub file); nothing was changed`,
    );
  }
  const out = await runner.run({
    argv: ["ssh-keygen", "-l", "-f", "-"],
    stdin: `${text}\n`,
    okCodes: [1, 255],
  });
  if (out.code !== 0) {
    throw new Error(
      `Cannot use SSH key ${file}: ssh-keygen says: ${
        out.stderr.trim().split("\n")[0]
      }; nothing was changed`,
    );
  }
  return text;
}

/** The admin's name: --name, else git's user.name or $USER, made a valid name. */
async function adminName(runner: Runner, root: string, opts: InitOptions): Promise<string> {
  if (opts.name !== undefined) {
    if (sanitizeAdminName(opts.name) !== opts.name) {
      throw new UsageError(
        `Invalid --name "${opts.name}": 1-63 lowercase letters, digits and '-', starting with a letter, not "example"`,
      );
    }
    return opts.name;
  }
  const git = await runner.run({
    argv: ["git", "config", "user.name"],
    cwd: root,
    okCodes: [1, 128],
  })
    .catch(() => undefined);
  for (const raw of [git?.stdout.trim(), Deno.env.get("USER")]) {
    const name = raw ? sanitizeAdminName(raw) : undefined;
    if (name !== undefined) return name;
  }
  throw new UsageError(
    "Cannot tell your name from git config user.name or $USER: pass --name <you>",
  );
}

/** The age recipient of an OpenSSH ed25519 private key file's text. */
function privateKeyRecipient(text: string): string {
  return ed25519PublicKeyToAge(ed25519.getPublicKey(parseSshEd25519PrivateKey(text)));
}

/**
 * dev-vm's new host key, where the VM reads it (ignored by git): made once, kept on re-runs. A
 * copy of the committed example key there (dev-vm's README put it there) is replaced.
 */
async function devVmKey(
  runner: Runner,
  root: string,
  options: { exampleRecipient: string | undefined; create: boolean },
): Promise<string> {
  const { exampleRecipient } = options;
  const path = `${root}/${DEV_VM_KEY_FILE}`;
  const existing = await readTextIfExists(path);
  if (existing !== undefined) {
    let recipient: string | undefined;
    try {
      recipient = privateKeyRecipient(existing);
    } catch {
      recipient = undefined;
    }
    const pub = await readTextIfExists(`${path}.pub`);
    if (recipient !== undefined && recipient !== exampleRecipient && pub !== undefined) {
      if (sshPublicKeyToAge(pub) === recipient) return pub.trim();
    }
  }
  if (!options.create) {
    if (runner.dryRun) {
      runner.log(`would run: ssh-keygen -t ed25519 -N '' -f ${DEV_VM_KEY_FILE} (dev-vm's new key)`);
    }
    return throwawaySshLine();
  }
  await Deno.mkdir(path.replace(/\/[^/]+$/, ""), { recursive: true, mode: 0o700 });
  for (const p of [path, `${path}.pub`]) await Deno.remove(p).catch(() => {});
  await runner.run({
    argv: ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", `root@${DEV_VM}`, "-f", path],
    mutates: true,
  });
  return (await Deno.readTextFile(`${path}.pub`)).trim();
}

/** The repository as the plan reads it. */
async function readInput(runner: Runner, root: string): Promise<InitInput> {
  const state = await readRepoState(root, { purpose: "make the repository yours" });
  const exampleAdminText = await readTextIfExists(`${root}/${EXAMPLE_ADMIN_KEY_FILE}`);
  const exampleHostText = await readTextIfExists(`${root}/${EXAMPLE_HOST_KEY_FILE}`);
  const secretTexts = new Map<string, string>();
  const committedSecrets = new Map<string, string>();
  for (const f of state.files) {
    secretTexts.set(f.path, await Deno.readTextFile(`${root}/${f.path}`));
    const shown = await runner.run({
      argv: ["git", "show", `HEAD:${f.path}`],
      cwd: root,
      okCodes: [1, 128],
    }).catch(() => undefined);
    if (shown?.code === 0) committedSecrets.set(f.path, shown.stdout);
  }
  // The example keys as git last committed them: which committed files they could read.
  const committedPublicKeys: string[] = [];
  for (
    const [path, recipientOf] of [
      [EXAMPLE_ADMIN_KEY_FILE, async (text: string) => await ageRecipientOfText(runner, text)],
      [EXAMPLE_HOST_KEY_FILE, (text: string) => Promise.resolve(privateKeyRecipient(text))],
    ] as const
  ) {
    const shown = await runner.run({
      argv: ["git", "show", `HEAD:${path}`],
      cwd: root,
      okCodes: [1, 128],
    })
      .catch(() => undefined);
    if (shown?.code !== 0) continue;
    const recipient = await recipientOf(shown.stdout).catch(() => undefined);
    if (recipient !== undefined) committedPublicKeys.push(recipient);
  }
  const indexes = new Map<string, string | undefined>();
  for (const spec of INDEX_SPECS) {
    indexes.set(spec.path, await readTextIfExists(`${root}/${spec.path}`));
  }
  return {
    state,
    layout: walkFolders(root, SCANNED_FOLDERS),
    indexes,
    adminsNix: await readTextIfExists(`${root}/lib/admins.nix`),
    desk1Nix: await readTextIfExists(`${root}/configurations/desk1/default.nix`),
    exampleAdminRecipient: exampleAdminText === undefined
      ? undefined
      : await ageRecipientOf(runner, `${root}/${EXAMPLE_ADMIN_KEY_FILE}`, "the example key"),
    exampleHostRecipient: exampleHostText === undefined
      ? undefined
      : privateKeyRecipient(exampleHostText),
    committedPublicKeys,
    committedSecrets,
    secretTexts,
  };
}

/** Asks a yes/no question on a terminal; `fallback` elsewhere. */
async function askYes(question: string, fallback: boolean): Promise<boolean> {
  if (!Deno.stdin.isTerminal()) return fallback;
  const answer = (await ask(`${question} [${fallback ? "Y/n" : "y/N"}] `))?.trim().toLowerCase();
  if (answer === undefined || answer === "") return fallback;
  return answer.startsWith("y");
}

function describeChange(c: InitChange): string {
  switch (c.kind) {
    case "admin-added":
      return `admin ${c.name} added (${c.recipient})`;
    case "admin-removed":
      return `example admin "${c.name}" removed`;
    case "ssh-key-written":
      return `${c.path}: your SSH key in place of the example's`;
    case "dev-vm-new-key":
      return `dev-vm: a new host key (${DEV_VM_KEY_FILE}, ignored by git; public half ${c.publicKeyFile})`;
    case "dev-vm-removed":
      return "dev-vm: taken off every secrets file (its key was the public example)";
    case "user-removed":
      return `example user "${c.name}" removed`;
    case "host-removed":
      return `example host ${c.name} removed`;
    case "rotated":
      return `${c.path}: new data key, re-encrypted`;
    case "deleted":
      return `${c.path}: deleted`;
    case "index-written":
      return `${c.path}: regenerated`;
  }
}

/** The closing list: values anyone with the example keys could read, and the command for each. */
export function formatPublicValues(values: readonly PublicValue[]): string {
  if (values.length === 0) return "";
  const lines = [
    "These secret values were public (anyone with the example keys could read them): replace each",
    "(with SOPS_AGE_KEY_FILE set to your admin key):",
  ];
  for (const v of values) lines.push(`  ${v.path} ${v.key}: ${v.command}`);
  return lines.join("\n");
}

function formatResult(result: InitResult, dryRun: boolean): string {
  const lines: string[] = [];
  if (result.nothingToDo) {
    lines.push("Nothing to do: the repository is yours already");
  } else {
    for (const c of result.changes) lines.push(`${dryRun ? "would: " : ""}${describeChange(c)}`);
  }
  const values = formatPublicValues(result.publicValues);
  if (values !== "") lines.push(values);
  for (const n of result.notes) lines.push(`note: ${n}`);
  if (!dryRun && !result.nothingToDo) {
    lines.push(
      `Your admin key: ${result.adminKeyFile}. Next: replace the values above, then commit (git add -A && git commit)`,
    );
  }
  return lines.join("\n");
}

/** Removes the example folders a run emptied (git keeps no empty folders; the walk would). */
async function removeEmptyFolders(root: string): Promise<void> {
  const folders = [
    ...EXAMPLE_HOSTS.map((h) => `configurations/${h}`),
    `secrets/users/${EXAMPLE_USER}`,
  ];
  for (const folder of folders) {
    await Deno.remove(`${root}/${folder}`).catch(() => {});
  }
}

/** The CLI; `hooks` are for tests. */
export async function main(args: string[], hooks: MainHooks = {}): Promise<number> {
  return await runMain(async () => {
    const program = newProgram(
      "init",
      "Make the repository yours: your admin and SSH keys in, every example key out, every data key rotated",
    )
      .option("--name <name>", "your admin name (default: git config user.name, made a valid name)")
      .option(
        "--admin-key-file <file>",
        "your age key (default: $SOPS_AGE_KEY_FILE or ~/.config/sops/age/keys.txt, made if absent)",
      )
      .option(
        "--ssh-key-file <pub>",
        "your SSH public key for lib/admins.nix (default: ~/.ssh/id_ed25519.pub if present)",
      )
      .option(
        "--dev-vm <choice>",
        "new-key: a new host key for dev-vm, kept out of git; remove: take dev-vm off every secrets file",
        "new-key",
      )
      .option("--keep-examples", "keep the example hosts nas1 and desk1")
      .option("--keep-example-user", "keep the example user sam (needs --keep-examples)")
      .option("-y, --yes", "ask nothing: take the flags and defaults as answers");
    await program.parseAsync(args, { from: "user" });
    const opts = program.opts() as InitOptions;
    const devVm = opts.devVm as DevVmChoice;
    if (!DEV_VM_CHOICES.includes(devVm)) {
      throw new UsageError(`Invalid --dev-vm "${opts.devVm}": expected new-key or remove`);
    }
    const runner = runnerFor(opts);
    const root = await findRepoRoot(Deno.cwd(), opts.repo);
    // On a terminal, the changes are shown and confirmed before any key is made.
    const asking = !opts.yes && !runner.dryRun && Deno.stdin.isTerminal();
    // Bad input stops before anything is touched: the key files first.
    let admin = await adminKey(runner, opts, { create: false });
    const ssh = await sshKeyLine(runner, opts);
    const lock = runner.dryRun ? undefined : await acquireLock(root, "init");
    try {
      let recovery: Recovery = { kind: "none" };
      if (runner.dryRun) {
        if (await pathExists(`${root}/${JOURNAL_DIR}/journal.json`)) {
          runner.log(`note: an unfinished run left ${JOURNAL_DIR}/; a real run finishes it first`);
        }
      } else {
        recovery = await recover(root, "finish");
        const line = describeRecovery(recovery);
        if (line !== undefined) runner.log(line);
      }
      let input = await readInput(runner, root);
      // A new admin key replaces the example admin; with none left, yours must exist already.
      const exampleAdmin = input.exampleAdminRecipient !== undefined ||
        input.state.config.keys.some((k) => k.anchor === "admin_example");
      if (!admin.exists && !exampleAdmin) {
        throw new Error(
          `Cannot find your admin key: ${admin.file} does not exist and the repository has no example admin to replace; pass --admin-key-file <your key>; nothing was changed`,
        );
      }
      if (!admin.exists && runner.dryRun) {
        runner.log(`would run: age-keygen -o ${admin.file} (your admin key, mode 0600)`);
      }
      if (!admin.exists && !runner.dryRun && !asking) {
        admin = await adminKey(runner, opts, { create: true });
      }
      const exampleHosts = EXAMPLE_HOSTS.filter((h) =>
        input.layout.some((p) => p.startsWith(`configurations/${h}/`))
      );
      const keepExamples = opts.keepExamples ??
        (asking && exampleHosts.length > 0
          ? !await askYes(`Remove the example hosts ${exampleHosts.join(", ")}?`, true)
          : false);
      checkChoices(input, {
        adminRecipient: admin.recipient,
        keepExamples,
        keepExampleUser: opts.keepExampleUser ?? false,
      });
      const devVmPublic = input.exampleHostRecipient !== undefined &&
        input.state.hostKeys.get(DEV_VM) === input.exampleHostRecipient;
      const name = await adminName(runner, root, opts);
      const choose = async (create: boolean): Promise<InitChoices> => ({
        adminName: name,
        adminRecipient: admin.recipient,
        ...(ssh === undefined ? {} : { sshKeyLine: ssh }),
        devVm,
        ...(devVmPublic && devVm === "new-key"
          ? {
            devVmPublicLine: await devVmKey(runner, root, {
              exampleRecipient: input.exampleHostRecipient,
              create,
            }),
          }
          : {}),
        keepExamples,
        keepExampleUser: opts.keepExampleUser ?? false,
      });
      let choices = await choose(!runner.dryRun && !asking);
      let plan: InitPlan = planInit(input, choices);
      const nothingToDo = plan.keys.steps.length === 0 && plan.cleanup.steps.length === 0;
      if (!nothingToDo) {
        const diff = unifiedDiff(".sops.yaml", input.state.config.text, plan.keys.targetConfig);
        if (diff !== "" && (runner.dryRun || runner.verbose)) runner.log(diff);
      }
      if (asking && !nothingToDo) {
        const pending = !admin.exists;
        for (const c of plan.changes) {
          runner.log(
            `  ${
              c.kind === "admin-added" && pending
                ? `admin ${c.name} added (a new age key, made at ${admin.file} when you confirm)`
                : describeChange(c)
            }`,
          );
        }
        if (!await askYes("Make these changes?", false)) {
          throw new Error(
            "Cannot make the repository yours: not confirmed (pass --yes); nothing was changed",
          );
        }
        // Confirmed: the keys are made now, and the plan made again with them.
        admin = await adminKey(runner, opts, { create: true });
        checkChoices(input, {
          adminRecipient: admin.recipient,
          keepExamples,
          keepExampleUser: opts.keepExampleUser ?? false,
        });
        choices = await choose(true);
        plan = planInit(input, choices);
      }
      // sops decrypts with your key file and the example's key (every file is still the
      // example's until it is re-encrypted; a killed run is finished the same way). The
      // example's is public: it goes to sops in its environment, and this process never reads
      // your key.
      Deno.env.set("SOPS_AGE_KEY_FILE", admin.file);
      if (input.exampleAdminRecipient !== undefined) {
        const example = await Deno.readTextFile(`${root}/${EXAMPLE_ADMIN_KEY_FILE}`);
        const own = Deno.env.get("SOPS_AGE_KEY");
        Deno.env.set("SOPS_AGE_KEY", own ? `${own}\n${example}` : example);
      }
      const execute = { runner, parallel: 4, ...(hooks.onEvent ? { onEvent: hooks.onEvent } : {}) };
      await executeSteps(root, plan.keys, execute);
      if (!runner.dryRun && plan.keys.steps.length > 0) {
        // What is left for the second list is planned again from the files as they are now.
        input = await readInput(runner, root);
        const again = planInit(input, choices);
        if (again.keys.steps.length > 0) {
          throw new Error(
            `Cannot finish: ${
              again.keys.steps.map(describeStep).join("; ")
            } still to do after the run; run deno task init again`,
          );
        }
        plan = { ...plan, cleanup: again.cleanup };
      }
      await executeSteps(root, plan.cleanup, execute);
      if (!runner.dryRun) await removeEmptyFolders(root);
      const result: InitResult = {
        nothingToDo,
        recovery,
        adminKeyFile: admin.file,
        changes: nothingToDo ? [] : plan.changes,
        publicValues: plan.publicValues,
        notes: plan.notes,
      };
      printResult(opts.json, result, formatResult(result, runner.dryRun));
    } finally {
      await lock?.[Symbol.asyncDispose]();
    }
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
