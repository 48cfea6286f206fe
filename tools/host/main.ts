// Adds a machine to the fleet: `deno task host new <name> --profile <server|workstation|devhost>
// [--address …] [--disk …]` scaffolds configurations/<name>/, makes its host key (ignored by
// git), adds it to the secrets and regenerates the indexes, then prints the next steps.
// A killed run is finished by running the same command again; nothing it made is overwritten.
import { ed25519 } from "@noble/curves/ed25519.js";
import { base32nopad, base64 } from "@scure/base";
import { newProgram, printResult, runMain, runnerFor } from "../lib/cli.ts";
import { pathExists, readTextIfExists, writeFileAtomic } from "../lib/fs.ts";
import { regenerateIndexes } from "../lib/index/mod.ts";
import { findRepoRoot, userPath } from "../lib/repo.ts";
import type { Runner } from "../lib/runner.ts";
import {
  type ChangeHooks,
  changeRepo,
  type CommandPlan,
  matchRule,
  planHostKey,
  planRekey,
  readRepoState,
  type RepoState,
  SECRETS_DIR,
  sshPublicKeyToAge,
} from "../lib/sops/mod.ts";
import {
  describeRequest,
  describeStep,
  DISK_KEY_PATH,
  type HostPlan,
  type HostRequest,
  type HostStep,
  MARKER_DIR,
  nextSteps,
  parseRequest,
  planHostNew,
  PROFILES,
  type RepoFacts,
  SYSTEMS,
} from "./plan.ts";

/** Seams for tests: called after each step, and on each event of the secrets executor. */
export interface MainHooks extends ChangeHooks {
  afterStep?: (step: HostStep) => void | Promise<void>;
}

/** What one step did. */
export type StepOutcome =
  | { kind: "begin" | "index" | "finish"; path?: string; status: "done" | "would-do" }
  | { kind: "create"; path: string; status: "created" | "kept" | "would-create" | "would-keep" }
  | {
    kind: "host-key";
    path: string;
    status: "made" | "kept" | "public-key-only" | "would-make" | "would-keep";
    fingerprint?: string;
  }
  | {
    kind: "secrets";
    path: string;
    status: "added" | "added-already" | "would-add";
    recipient?: string;
  };

/** The result of `host new`, for --json. */
export interface HostNewResult {
  host: string;
  profile: string;
  address: string;
  disk: string | null;
  dryRun: boolean;
  /** An earlier, killed run of the same command was finished. */
  resumed: boolean;
  steps: StepOutcome[];
  next: string[];
}

/** An ssh-ed25519 public key line for a key that exists nowhere: for checking a plan only. */
function throwawayKeyLine(): string {
  const publicKey = ed25519.getPublicKey(ed25519.utils.randomSecretKey());
  const field = (bytes: Uint8Array) => {
    const out = new Uint8Array(4 + bytes.length);
    new DataView(out.buffer).setUint32(0, bytes.length);
    out.set(bytes, 4);
    return out;
  };
  const type = field(new TextEncoder().encode("ssh-ed25519"));
  const key = field(publicKey);
  const blob = new Uint8Array(type.length + key.length);
  blob.set(type);
  blob.set(key, type.length);
  return `ssh-ed25519 ${base64.encode(blob)}\n`;
}

/** A new disk passphrase: 30 random base32 characters (150 bits), in groups of five. */
function newDiskPassphrase(): string {
  const text = base32nopad.encode(crypto.getRandomValues(new Uint8Array(19))).toLowerCase();
  return text.slice(0, 30).match(/.{5}/g)!.join("-");
}

async function readFacts(root: string, name: string): Promise<RepoFacts> {
  const index = (await readTextIfExists(`${root}/configurations/nixos-configurations.nix`)) ?? "";
  const indexedHosts = [...index.matchAll(/^\s*"?([A-Za-z0-9_'-]+)"?\s*=\s*\.\//gm)].map((m) =>
    m[1]!
  );
  let folder: string[] | undefined;
  try {
    folder = (await Array.fromAsync(Deno.readDir(`${root}/configurations/${name}`)))
      .map((e) => e.name);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const markerPath = `${MARKER_DIR}/${name}.json`;
  const markerText = await readTextIfExists(`${root}/${markerPath}`);
  let marker: HostRequest | undefined;
  if (markerText !== undefined) {
    try {
      marker = parseRequest(JSON.parse(markerText) as { name: string });
    } catch (error) {
      throw new Error(
        `Cannot read ${markerPath} (left by an unfinished host new): ${
          (error as Error).message
        }; remove it to start over`,
      );
    }
  }
  const sops = (await readTextIfExists(`${root}/.sops.yaml`)) ?? "";
  return {
    indexedHosts,
    ...(folder === undefined ? {} : { folder }),
    ...(marker === undefined ? {} : { marker }),
    secretsFile: await pathExists(`${root}/${SECRETS_DIR}/${name}.yaml`),
    sopsAnchor: new RegExp(`&host_${name}(\\s|$)`, "m").test(sops),
  };
}

/** The host's file and its rule already name `recipient`: added before (a re-run). */
function addedAlready(state: RepoState, host: string, recipient: string): boolean {
  const file = `${SECRETS_DIR}/${host}.yaml`;
  return state.hostKeys.get(host) === recipient && state.files.some((f) => f.path === file) &&
    (matchRule(state.config, file)?.ageRecipients ?? []).includes(recipient);
}

/**
 * `secrets host add <host>` with the key in its place: the same plan (lib/sops planHostKey).
 * The new file holds the disk passphrase when one is asked for.
 */
function planSecrets(
  state: RepoState,
  host: string,
  keyLine: string,
  diskKey: string | undefined,
): CommandPlan {
  const recipient = sshPublicKeyToAge(keyLine);
  if (addedAlready(state, host, recipient)) {
    // Nothing to do: a plan with no step, and `.sops.yaml` as it is.
    const rekey = { ...planRekey(state), configText: state.config.text, problems: [] };
    return {
      rekey,
      steps: { command: `host new ${host}`, targetConfig: state.config.text, steps: [] },
    };
  }
  const plan = planHostKey(state, host, keyLine, {
    rotate: true,
    replace: false,
    fileExists: () => state.hostKeys.has(host),
  });
  if (diskKey === undefined) return plan;
  const content = `disk-encryption-keys:\n  ${JSON.stringify(DISK_KEY_PATH)}: ${diskKey}\n`;
  return {
    ...plan,
    steps: {
      ...plan.steps,
      steps: plan.steps.steps.map((s) =>
        s.kind === "encrypt" && s.path === `${SECRETS_DIR}/${host}.yaml` ? { ...s, content } : s
      ),
    },
  };
}

/**
 * Creates `path` with `content` unless something is there: written beside it, then hard-linked
 * into place (fails if the name exists, so a file someone made or edited meanwhile is kept).
 */
async function createNew(path: string, content: string, mode = 0o644): Promise<boolean> {
  if (await Deno.lstat(path).then(() => true, () => false)) return false;
  const slash = path.lastIndexOf("/");
  const temp = `${path.slice(0, slash)}/.${path.slice(slash + 1)}.${
    crypto.randomUUID().slice(0, 8)
  }.tmp`;
  await Deno.writeTextFile(temp, content, { mode });
  await Deno.chmod(temp, mode);
  try {
    await Deno.link(temp, path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.AlreadyExists) return false;
    throw error;
  } finally {
    await Deno.remove(temp).catch(() => {});
  }
}

/** Removes what a killed run left half-made: temporary files beside the scaffold, a keygen folder. */
async function removeLeftovers(root: string, name: string): Promise<void> {
  const dir = `${root}/configurations/${name}`;
  const entries = await Array.fromAsync(Deno.readDir(dir)).catch(() => []);
  for (const entry of entries) {
    if (entry.isFile && /^\..+\.[0-9a-f]{8}\.tmp$/.test(entry.name)) {
      await Deno.remove(`${dir}/${entry.name}`).catch(() => {});
    }
  }
  await Deno.remove(`${root}/${MARKER_DIR}/${name}.keygen`, { recursive: true }).catch(() => {});
}

async function makeHostKey(
  root: string,
  step: Extract<HostStep, { kind: "host-key" }>,
  runner: Runner,
): Promise<StepOutcome> {
  const key = `${root}/${step.path}`;
  const pub = `${key}.pub`;
  const [hasKey, hasPub] = [await pathExists(key), await pathExists(pub)];
  const fingerprint = async () =>
    (await runner.text({ argv: ["ssh-keygen", "-l", "-f", pub] })).trim();
  if (hasKey || hasPub) {
    if (hasKey && !hasPub) {
      // Killed between the two links: the public half again, from the private key.
      const line = await runner.text({ argv: ["ssh-keygen", "-y", "-f", key] });
      await createNew(pub, `${line.trim()} ${step.comment}\n`);
    }
    return {
      kind: "host-key",
      path: step.path,
      status: hasKey ? "kept" : "public-key-only",
      fingerprint: await fingerprint(),
    };
  }
  const name = step.path.split("/")[1]!;
  const work = `${root}/${MARKER_DIR}/${name}.keygen`;
  await Deno.remove(work, { recursive: true }).catch(() => {});
  await Deno.mkdir(work, { recursive: true, mode: 0o700 });
  try {
    await runner.run({
      argv: [
        "ssh-keygen",
        "-q",
        "-t",
        "ed25519",
        "-N",
        "",
        "-C",
        step.comment,
        "-f",
        `${work}/key`,
      ],
    });
    // The private key first: a run killed between the two makes the public one from it.
    for (const [from, to] of [[`${work}/key`, key], [`${work}/key.pub`, pub]] as const) {
      await Deno.link(from, to).catch((error) => {
        if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
      });
    }
  } finally {
    await Deno.remove(work, { recursive: true }).catch(() => {});
  }
  return { kind: "host-key", path: step.path, status: "made", fingerprint: await fingerprint() };
}

async function execute(
  root: string,
  plan: HostPlan,
  options: { runner: Runner; verbose: boolean; hooks: MainHooks },
): Promise<StepOutcome[]> {
  const { runner, hooks } = options;
  const outcomes: StepOutcome[] = [];
  for (const [i, step] of plan.steps.entries()) {
    if (options.verbose) runner.log(`${i + 1}. ${describeStep(step)}`);
    let outcome: StepOutcome;
    switch (step.kind) {
      case "begin": {
        await Deno.mkdir(`${root}/${MARKER_DIR}`, { recursive: true });
        await writeFileAtomic(`${root}/${step.path}`, `${JSON.stringify(step.request)}\n`);
        await Deno.mkdir(`${root}/configurations/${step.request.name}`, { recursive: true });
        if (plan.resumed) await removeLeftovers(root, step.request.name);
        outcome = { kind: "begin", path: step.path, status: "done" };
        break;
      }
      case "create": {
        const created = await createNew(`${root}/${step.path}`, step.content);
        if (!created) runner.log(`kept ${step.path} (it exists; not overwritten)`);
        outcome = { kind: "create", path: step.path, status: created ? "created" : "kept" };
        break;
      }
      case "host-key":
        outcome = await makeHostKey(root, step, runner);
        break;
      case "secrets": {
        const keyLine = await Deno.readTextFile(`${root}/${step.keyFile}`);
        let already = false;
        await changeRepo(
          root,
          {
            dryRun: false,
            verbose: options.verbose,
            parallel: 4,
            rotate: true,
          },
          hooks,
          (state) => {
            already = addedAlready(state, step.host, sshPublicKeyToAge(keyLine));
            return planSecrets(state, step.host, keyLine, step.diskKey);
          },
          { command: `host new ${step.host}` },
        );
        outcome = {
          kind: "secrets",
          path: `${SECRETS_DIR}/${step.host}.yaml`,
          status: already ? "added-already" : "added",
          recipient: sshPublicKeyToAge(keyLine),
        };
        break;
      }
      case "index": {
        await regenerateIndexes(root, { write: true, withUntracked: true });
        outcome = { kind: "index", status: "done" };
        break;
      }
      case "finish": {
        await Deno.remove(`${root}/${step.path}`).catch((error) => {
          if (!(error instanceof Deno.errors.NotFound)) throw error;
        });
        // The folder of markers goes with its last marker (another host's run may hold one).
        await Deno.remove(`${root}/${MARKER_DIR}`).catch(() => {});
        outcome = { kind: "finish", path: step.path, status: "done" };
        break;
      }
    }
    outcomes.push(outcome);
    await hooks.afterStep?.(step);
  }
  return outcomes;
}

/** The outcome of a step --dry-run would run. */
function wouldDo(root: string, step: HostStep, exists: (path: string) => boolean): StepOutcome {
  switch (step.kind) {
    case "create":
      return {
        kind: "create",
        path: step.path,
        status: exists(`${root}/${step.path}`) ? "would-keep" : "would-create",
      };
    case "host-key":
      return {
        kind: "host-key",
        path: step.path,
        status: exists(`${root}/${step.path}`) ? "would-keep" : "would-make",
      };
    case "secrets":
      return { kind: "secrets", path: `${SECRETS_DIR}/${step.host}.yaml`, status: "would-add" };
    default:
      return {
        kind: step.kind,
        ...("path" in step ? { path: step.path } : {}),
        status: "would-do",
      };
  }
}

function existsSync(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function summary(result: HostNewResult): string {
  const lines = result.steps.flatMap((s) => {
    if (s.kind === "create" || s.kind === "host-key" || s.kind === "secrets") {
      const extra = s.kind === "host-key" && s.fingerprint ? ` (${s.fingerprint})` : "";
      return [`${s.path}: ${s.status}${extra}`];
    }
    return [];
  });
  const head = result.dryRun
    ? `Dry run of host new ${result.host}: nothing was changed`
    : `Host ${result.host} (${result.profile}) is in the repository${
      result.resumed ? " (an unfinished run was finished)" : ""
    }`;
  return [head, ...lines, "", "Next:", ...result.next.map((l, i) => `  ${i + 1}. ${l}`)].join(
    "\n",
  );
}

/** The CLI; `hooks` are for tests. */
export async function main(args: string[], hooks: MainHooks = {}): Promise<number> {
  return await runMain(async () => {
    const keyFile = Deno.env.get("SOPS_AGE_KEY_FILE");
    if (keyFile && !keyFile.startsWith("/")) Deno.env.set("SOPS_AGE_KEY_FILE", userPath(keyFile));
    const program = newProgram("host", "Add machines to the fleet")
      .configureHelp({ showGlobalOptions: true });
    program.command("new")
      .description(
        "scaffold configurations/<name>/, make its host key, add it to the secrets and the indexes",
      )
      .argument("<name>", "the host's name (folder, secrets file and hostname)")
      .option("--profile <profile>", `the profile it imports: ${PROFILES.join(", ")}`)
      .option("--address <address>", "its address for deploy (default: its name, as a DNS name)")
      .option(
        "--monitoring-interface <interface>",
        "the interface the monitoring host scrapes it on, at --address (default: not monitored yet, said in monitoring.nix)",
      )
      .option(
        "--system <system>",
        `its platform: ${
          SYSTEMS.join(", ")
        } (default x86_64-linux; an aarch64-linux host builds its own system on deploy)`,
      )
      .option(
        "--disk <device>",
        "the disk to partition at install (a disko layout: EFI, btrfs on LUKS), e.g. /dev/nvme0n1",
      )
      .action(async (name, o) => {
        const opts = program.opts() as {
          dryRun?: boolean;
          verbose?: boolean;
          json?: boolean;
          repo?: string;
        };
        const request = parseRequest({
          name,
          ...(o.profile === undefined ? {} : { profile: o.profile }),
          ...(o.address === undefined ? {} : { address: o.address }),
          ...(o.disk === undefined ? {} : { disk: o.disk }),
          ...(o.system === undefined ? {} : { system: o.system }),
          ...(o.monitoringInterface === undefined
            ? {}
            : { monitoringInterface: o.monitoringInterface }),
        });
        const root = await findRepoRoot(Deno.cwd(), opts.repo);
        const runner = runnerFor(opts);
        const facts = await readFacts(root, name);
        const plan = planHostNew(request, facts, {
          ...(request.disk === undefined ? {} : { diskKey: newDiskPassphrase() }),
        });
        // Whether the secrets can take the host, checked before anything is written: the plan
        // of `secrets host add` with the key it will have (or a throwaway one of the same kind).
        const state = await readRepoState(root);
        const pub = `${root}/configurations/${name}/ssh_host_ed25519_key.pub`;
        const keyLine = (await readTextIfExists(pub)) ?? throwawayKeyLine();
        try {
          planSecrets(state, name, keyLine, undefined);
        } catch (error) {
          throw new Error(
            `Cannot make host "${name}": ${(error as Error).message}; nothing was changed`,
          );
        }
        let steps: StepOutcome[];
        if (runner.dryRun) {
          plan.steps.forEach((step, i) => runner.log(`would ${i + 1}. ${describeStep(step)}`));
          steps = plan.steps.map((step) => wouldDo(root, step, existsSync));
        } else {
          if (plan.resumed) runner.log(`Finishing the unfinished \`${describeRequest(request)}\``);
          steps = await execute(root, plan, { runner, verbose: opts.verbose ?? false, hooks });
        }
        const result: HostNewResult = {
          host: name,
          profile: request.profile,
          address: request.address,
          disk: request.disk ?? null,
          dryRun: runner.dryRun,
          resumed: plan.resumed,
          steps,
          next: nextSteps(request),
        };
        printResult(opts.json, result, summary(result));
      });
    await program.parseAsync(args, { from: "user" });
    return 0;
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
