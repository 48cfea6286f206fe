// The install executor: runs the plan's steps in order through the Runner. Every check that can
// fail runs before nixos-anywhere touches the target; the scratch folder is removed afterwards.
import { causeLine, CommandError } from "../lib/errors.ts";
import { isYes } from "../lib/prompt.ts";
import { startProcess } from "../lib/process_runner.ts";
import { formatCommand } from "../lib/quote.ts";
import type { Runner } from "../lib/runner.ts";
import {
  createPinnedKnownHosts,
  diagnoseMismatch,
  fingerprint,
  hostFiles,
  hostKeyMismatch,
  keyFromKeyscan,
  runSsh,
  type SshContext,
  sshExecArgv,
  type SshTarget,
} from "../lib/fleet/mod.ts";
import { pathExists } from "../lib/fs.ts";
import { describeStep, finishNewKey, type InstallPlan, type Step, WORK_DIR } from "./plan.ts";
import type { Scratch } from "./scratch.ts";
import { describeStop, groupMembers } from "./process_group.ts";
import { sshPublicKeyToAge } from "../lib/sops/mod.ts";
import {
  checkHostFiles,
  checkRecipient,
  checkSecretsChain,
  checkTracked,
  diskPassphrases,
  type HostFiles,
  hostSopsFiles,
  type KeyCheck,
} from "./secrets_check.ts";

/** What an install did, as --json prints it. */
export interface InstallReport {
  host: string;
  address: string;
  result: "installed" | "installed-not-rebooted" | "dry-run";
  hostKey?: { path: string; fingerprint: string; created: boolean };
  installerFingerprint?: string;
  diskKeys: string[];
  toplevel?: string;
  secrets?: string[];
  phases: string[];
}

/** Thrown when the user said no: nothing on the target was touched. */
export class Stopped extends Error {
  override name = "Stopped";
}

/** What the executor needs besides the plan. */
export interface ExecuteContext {
  runner: Runner;
  root: string;
  scratch: Scratch;
  /** Asks a yes/no question; undefined when stdin is closed. */
  ask: (question: string) => Promise<string | undefined>;
  sshOptions: readonly string[];
  connectTimeout: number;
  /** Milliseconds between SSH attempts while waiting for the reboot. */
  pollMs?: number;
}

// A NixOS evaluation takes seconds to a minute; ten minutes means it hangs.
const EVAL_TIMEOUT_MS = 600_000;

function resolveWork(arg: string, work: string): string {
  return arg.replaceAll(WORK_DIR, work);
}

/** The most of one line of nixos-anywhere's output that is kept and shown (a progress bar or a
 * binary blob has no newline: held whole, it grew without bound, and so did the error line). */
export const MAX_LINE_CHARS = 2000;

/**
 * Splits a stream of text into lines, keeping at most `max` characters of each: the rest of a
 * longer line is counted, not kept, and its line ends with how much was left out.
 */
export class BoundedLines {
  #kept = "";
  #dropped = 0;
  constructor(readonly max: number) {}

  /** The lines `chunk` completes. */
  push(chunk: string): string[] {
    const out: string[] = [];
    let start = 0;
    while (start <= chunk.length) {
      const end = chunk.indexOf("\n", start);
      const piece = chunk.slice(start, end < 0 ? chunk.length : end);
      const room = this.max - this.#kept.length;
      this.#kept += piece.slice(0, Math.max(0, room));
      this.#dropped += Math.max(0, piece.length - Math.max(0, room));
      if (end < 0) break;
      out.push(this.#take());
      start = end + 1;
    }
    return out;
  }

  /** The unfinished last line, if any. */
  end(): string | undefined {
    return this.#kept === "" && this.#dropped === 0 ? undefined : this.#take();
  }

  #take(): string {
    const line = this.#dropped > 0
      ? `${this.#kept}… (${this.#dropped} more characters left out)`
      : this.#kept;
    this.#kept = "";
    this.#dropped = 0;
    return line;
  }
}

/** Runs nixos-anywhere with its output streamed, a step line per `### … ###` phase line. */
async function runStreaming(
  ctx: ExecuteContext,
  argv: string[],
  timeoutSeconds: number,
): Promise<void> {
  const child = startProcess(argv, {
    cwd: ctx.root,
    stdin: "null",
    // A session and process group of its own: its children (ssh driving disko on the target,
    // nix) are stopped with it, and a Ctrl-C on the terminal reaches only this tool, which stops
    // the whole group.
    detached: true,
  });
  await ctx.scratch.started(child);
  const tail: string[] = [];
  let phase = "start";
  const show = (line: string) => {
    const step = line.match(/^### (.*) ###$/);
    if (step) {
      phase = step[1]!;
      ctx.runner.log(`==> ${phase}`);
    } else {
      ctx.runner.log(`    ${line}`);
    }
    tail.push(line);
    if (tail.length > 20) tail.shift();
  };
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const lines = new BoundedLines(MAX_LINE_CHARS);
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      for (const line of lines.push(chunk)) show(line);
    }
    const last = lines.end();
    if (last !== undefined) show(last);
  };
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ctx.scratch.stopChild();
  }, timeoutSeconds * 1000);
  const pumped = Promise.all([pump(child.stdout!), pump(child.stderr!)]);
  const status = await child.status.finally(() => clearTimeout(timer));
  if (timedOut) {
    const outcome = await ctx.scratch.stopChild()!;
    if (outcome.kind === "ended") ctx.scratch.ended();
    // A process outside its group may still hold the pipes open: do not wait for them.
    pumped.catch(() => {});
    throw new Error(
      `nixos-anywhere did not finish within ${timeoutSeconds} s (during "${phase}"), so it was stopped: ${
        describeStop(outcome)
      }`,
    );
  }
  // Whatever it left running in its group (a background ssh) still has the key files at hand.
  // (When an interrupt is stopping the group, the interrupt says how that ended.)
  const left = ctx.scratch.stopping ? [] : await groupMembers(child.pid);
  if (left.length > 0) {
    const outcome = await ctx.scratch.stopChild()!;
    ctx.runner.log(
      `   nixos-anywhere ended, leaving process(es) ${left.join(", ")} of its group: ${
        describeStop(outcome)
      }`,
    );
  }
  ctx.scratch.ended();
  await pumped;
  if (!status.success) {
    const last = tail.filter((l) => l.trim() !== "").at(-1) ?? "";
    throw new Error(
      `nixos-anywhere failed with exit code ${status.code} during "${phase}"${
        last ? `: ${last.trim()}` : ""
      }`,
    );
  }
}

async function waitForPinnedSsh(
  ctx: ExecuteContext,
  target: SshTarget,
  publicKey: string,
  knownHostsFile: string,
  timeoutSeconds: number,
): Promise<void> {
  const deadline = Date.now() + timeoutSeconds * 1000;
  let last = "no answer";
  let mismatch = false;
  while (true) {
    const remaining = Math.ceil((deadline - Date.now()) / 1000);
    if (remaining <= 0) break;
    const connectTimeout = Math.max(1, Math.min(ctx.connectTimeout, remaining));
    const ssh: SshContext = { knownHostsFile, connectTimeout, extraOptions: ctx.sshOptions };
    const outcome = await runSsh(
      ctx.runner,
      sshExecArgv(target, ssh, ["true"]),
      (connectTimeout + 5) * 1000,
    );
    if (outcome.ok) return;
    if ("failure" in outcome) {
      const { failure } = outcome;
      mismatch = failure.kind === "host-key-mismatch";
      last = mismatch ? "host key mismatch" : failure.detail;
      if (failure.kind === "auth") {
        throw new Error(
          `Cannot log in to ${target.host} after the install: ${failure.detail} (is your SSH key in the host's authorized keys?)`,
        );
      }
    } else {
      mismatch = false;
      last = causeLine(outcome.stderr) || `exit code ${outcome.code}`;
    }
    if (Date.now() + (ctx.pollMs ?? 1000) >= deadline) break;
    await new Promise((resolve) => setTimeout(resolve, ctx.pollMs ?? 1000));
  }
  if (mismatch) {
    const diagnosis = await diagnoseMismatch(ctx.runner, target, publicKey, 5);
    throw new Error(
      `Cannot confirm ${target.host} after the reboot: ${hostKeyMismatch(diagnosis)}`,
    );
  }
  throw new Error(
    `Cannot confirm ${target.host} after the reboot: no SSH answer with its pinned key within ${timeoutSeconds} s (last: ${last})`,
  );
}

/** Runs `plan`; in a dry run, prints each step and runs only the checks that read. */
export async function executeInstall(
  plan: InstallPlan,
  ctx: ExecuteContext,
): Promise<InstallReport> {
  const { runner, root } = ctx;
  const report: InstallReport = {
    host: plan.host,
    address: plan.address,
    result: runner.dryRun ? "dry-run" : "installed",
    diskKeys: [],
    phases: [],
  };
  let keyCheck: KeyCheck | undefined;
  let publicKey: string | undefined;
  /** The installed host, reached as root over SSH pinned to its committed key. */
  const target: SshTarget = {
    host: plan.host,
    address: plan.address,
    port: plan.port,
    user: "root",
  };
  let keyPath: string | undefined;
  let created = false;
  let rebooted = false;

  for (const [index, step] of plan.steps.entries()) {
    runner.log(`${index + 1}. ${describeStep(step, plan)}`);
    if (runner.dryRun && step.kind === "check-key" && withoutKey(plan)) {
      // No private key at hand: what can be checked without it is who the file is encrypted for.
      const recipient = await checkRecipient(root, plan.host, step);
      await checkTracked(runner, root, plan.host, [step.publicKeyPath, step.secretsFile]);
      const others = await hostSopsFiles(runner, root, { host: plan.host, recipient });
      await checkHostFiles(root, others.files, { host: plan.host, recipient });
      runner.log(
        `   ok so far: ${[step.secretsFile, ...others.files].join(", ")} ${
          others.files.length === 0 ? "is" : "are"
        } encrypted for ${plan.host}'s key (${recipient}); decrypting needs the private key`,
      );
      runner.log(`   (the files checked: ${others.source})`);
      continue;
    }
    if (runner.dryRun && !readsOnly(step, plan)) continue;
    await runStep(step);
  }
  if (!runner.dryRun && !rebooted) report.result = "installed-not-rebooted";
  return report;

  async function runStep(step: Step): Promise<void> {
    switch (step.kind) {
      case "key-needed":
        return;
      case "new-host-key": {
        await Deno.mkdir(step.keyPath.replace(/\/[^/]+$/, "") || "/", {
          recursive: true,
          mode: 0o700,
        });
        await runner.run({ argv: step.argv, mutates: true, timeoutMs: 30_000 });
        await Deno.chmod(step.keyPath, 0o600);
        created = true;
        keyPath = step.keyPath;
        runner.log(
          `   new private host key kept at ${step.keyPath}; keep it safe (the tool never deletes it)`,
        );
        return;
      }
      case "rekey":
        try {
          await runner.run({ argv: step.argv, cwd: root, mutates: true, timeoutMs: 600_000 });
        } catch (error) {
          // The new key exists now and is never overwritten: say how to finish from here.
          const cause = error instanceof CommandError
            ? causeLine(error.stderrTail).replace(/^error:\s*/, "") || `exit code ${error.code}`
            : (error as Error).message;
          throw new Error(
            `Cannot re-key the secrets for the new host key: ${cause}; ${
              // The secrets tool may have written the .pub before it failed: hint from what is there.
              finishNewKey(
                plan.host,
                await pathExists(`${root}/${hostFiles(plan.host).publicKey}`),
                keyPath!,
              )}`,
          );
        }
        return;
      case "stage": {
        const files = step.argv.slice(3).join(", ");
        if (step.ask) {
          const answer = await ctx.ask(
            `The flake sees only tracked files: stage ${files} with git add now? [y/N] `,
          );
          if (!isYes(answer)) {
            throw new Stopped(
              `Stopped before the install: git add (or commit) ${files}, then run again with --host-key ${
                keyPath ?? "<new key>"
              }`,
            );
          }
        }
        await runner.run({ argv: step.argv, cwd: root, mutates: true });
        return;
      }
      case "check-key": {
        keyPath = step.keyPath;
        // sops' HOME: empty, so it finds no other identity; nothing secret is written there, so
        // it need not be on tmpfs (a dry run works without a runtime folder).
        const emptyHome = await Deno.makeTempDir({ prefix: "devops-install-home-" });
        let others: HostFiles;
        try {
          const committed = await Deno.readTextFile(`${root}/${step.publicKeyPath}`).catch(
            () => undefined,
          );
          others = committed === undefined
            ? { files: [], source: "" }
            : await hostSopsFiles(runner, root, {
              host: plan.host,
              recipient: sshPublicKeyToAge(committed),
            });
          keyCheck = await checkSecretsChain(runner, {
            root,
            host: plan.host,
            keyPath: step.keyPath,
            publicKeyPath: step.publicKeyPath,
            secretsFile: step.secretsFile,
            emptyHome,
            otherFiles: others.files,
          });
        } finally {
          await Deno.remove(emptyHome, { recursive: true }).catch(() => {});
        }
        await checkTracked(runner, root, plan.host, [step.publicKeyPath, step.secretsFile]);
        publicKey = await Deno.readTextFile(`${root}/${step.publicKeyPath}`);
        report.hostKey = { path: step.keyPath, fingerprint: keyCheck.fingerprint, created };
        runner.log(
          `   ok: ${keyCheck.fingerprint}, age ${keyCheck.recipient} decrypts ${
            [step.secretsFile, ...others.files].join(", ")
          }`,
        );
        runner.log(`   (the files checked: ${others.source})`);
        return;
      }
      case "disk-keys": {
        const values = diskPassphrases(keyCheck!.secrets, step.keys.map((k) => k.installerPath), {
          host: plan.host,
          secretsFile: step.secretsFile,
          zfsPassphrasePaths: step.keys.filter((k) => k.zfsPassphrase).map((k) => k.installerPath),
        });
        if (runner.dryRun) {
          runner.log(`   ok: ${values.length} disk passphrase(s) found`);
          return;
        }
        const work = await ctx.scratch.dir();
        await Deno.mkdir(`${work}/disk-keys`, { mode: 0o700 });
        for (const [i, key] of step.keys.entries()) {
          const file = resolveWork(key.localFile, work);
          await Deno.writeTextFile(file, values[i]!, { mode: 0o600, createNew: true });
          await Deno.chmod(file, 0o600);
          report.diskKeys.push(key.installerPath);
        }
        return;
      }
      case "extra-files": {
        const dir = resolveWork(step.dir, await ctx.scratch.dir());
        await Deno.mkdir(dir, { mode: 0o700 });
        await Deno.chmod(dir, 0o700);
        // nixos-anywhere unpacks the tree over the new root with tar, modes included: etc/ and
        // etc/ssh/ must have the modes NixOS gives them (it resets the root itself).
        await Deno.mkdir(`${dir}/etc/ssh`, { recursive: true });
        await Deno.chmod(`${dir}/etc`, 0o755);
        await Deno.chmod(`${dir}/etc/ssh`, 0o755);
        const key = `${dir}/etc/ssh/ssh_host_ed25519_key`;
        await Deno.writeFile(key, await Deno.readFile(step.keyPath), { mode: 0o600 });
        await Deno.chmod(key, 0o600);
        await Deno.writeTextFile(`${key}.pub`, publicKey!, { mode: 0o644 });
        await Deno.chmod(`${key}.pub`, 0o644);
        return;
      }
      case "scan-installer": {
        const result = await runner.run({
          argv: step.argv,
          okCodes: [1],
          timeoutMs: (step.timeoutSeconds + 10) * 1000,
        });
        const key = keyFromKeyscan(result.stdout);
        if (key === undefined) {
          throw new Error(
            `Cannot reach the installer at ${plan.address}:${plan.port}: ssh-keyscan got no ed25519 host key within ${step.timeoutSeconds} s (booted? on the network?)`,
          );
        }
        const seen = fingerprint(key);
        report.installerFingerprint = seen;
        runner.log(`   the installer at ${plan.address} answers with ${seen} (ED25519)`);
        if (step.confirm) {
          const answer = await ctx.ask(
            `Is that the fingerprint the installer shows on its console? Its disks will be erased. [y/N] `,
          );
          if (!isYes(answer)) {
            throw new Stopped(
              "Stopped: the installer's host key was not confirmed; nothing was changed",
            );
          }
        }
        return;
      }
      case "nixos-anywhere": {
        const work = await ctx.scratch.dir();
        const argv = step.argv.map((arg) => resolveWork(arg, work));
        if (runner.verbose) runner.log(`$ ${formatCommand(argv)}`);
        const phasesAt = argv.indexOf("--phases");
        report.phases = phasesAt >= 0
          ? argv[phasesAt + 1]!.split(",")
          : ["kexec", "disko", "install", "reboot"];
        await runStreaming(ctx, argv, step.timeoutSeconds);
        return;
      }
      case "wait-ssh": {
        await using pinned = await createPinnedKnownHosts([{ host: plan.host, key: publicKey! }]);
        await waitForPinnedSsh(ctx, target, publicKey!, pinned.file, step.timeoutSeconds);
        rebooted = true;
        return;
      }
      case "check-system": {
        const expected = await runner.text({
          argv: step.argv,
          cwd: root,
          timeoutMs: EVAL_TIMEOUT_MS,
        });
        const active = await remote(["readlink", "-f", "/run/current-system"]);
        if (active !== expected) {
          throw new Error(
            `Installed ${plan.host}, but it runs ${
              active || "no system"
            }, not the expected ${expected}`,
          );
        }
        report.toplevel = expected;
        runner.log(`   ok: ${expected}`);
        return;
      }
      case "check-secrets": {
        const paths = JSON.parse(
          await runner.text({ argv: step.argv, cwd: root, timeoutMs: EVAL_TIMEOUT_MS }),
        ) as string[];
        report.secrets = paths;
        if (paths.length === 0) {
          runner.log("   the host declares no sops secrets");
          return;
        }
        const missing = (await remote([
          "sh",
          "-c",
          'for p in "$@"; do [ -e "$p" ] || echo "$p"; done',
          "sh",
          ...paths,
        ])).split("\n").filter(Boolean);
        if (missing.length > 0) {
          throw new Error(
            `Installed ${plan.host}, but sops-nix did not make ${
              missing.join(", ")
            }; see journalctl -u sops-nix on the host`,
          );
        }
        runner.log(`   ok: ${paths.length} secrets in place`);
        return;
      }
    }
  }

  async function remote(command: string[]): Promise<string> {
    await using pinned = await createPinnedKnownHosts([{ host: plan.host, key: publicKey! }]);
    const ssh: SshContext = {
      knownHostsFile: pinned.file,
      connectTimeout: ctx.connectTimeout,
      extraOptions: ctx.sshOptions,
    };
    return await runner.text({
      argv: sshExecArgv(target, ssh, command),
      timeoutMs: (ctx.connectTimeout + 30) * 1000,
    });
  }
}

function withoutKey(plan: InstallPlan): boolean {
  return plan.steps.some((s) => s.kind === "key-needed");
}

/** Steps a dry run carries out: the checks that only read (the key check, when a key is given). */
function readsOnly(step: Step, plan: InstallPlan): boolean {
  if (step.kind !== "check-key" && step.kind !== "disk-keys") return false;
  return !withoutKey(plan) && !plan.steps.some((s) => s.kind === "new-host-key");
}
