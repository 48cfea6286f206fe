// Deploys NixOS hosts: build, copy, activate, confirm or roll back. `deno task deploy --help`.
import { Option } from "@commander-js/extra-typings";
import { KillController } from "dax";
import { newProgram, positiveInt, printResult, runMain } from "../lib/cli.ts";
import { UsageError } from "../lib/errors.ts";
import { findRepoRoot } from "../lib/repo.ts";
import { createRunner, type Runner } from "../lib/runner.ts";
import { askYesNo, oneQuestionAtATime, readSecret } from "../lib/prompt.ts";
import { printable } from "../lib/terminal.ts";
import {
  collectSshOption,
  factsSource,
  loadPinnedKeys,
  MAX_TIMEOUT_SECONDS,
  readFleetFacts,
  type SshContext,
  TAG,
  writeKnownHosts,
} from "../lib/fleet/mod.ts";
import { type DeployHooks, executeDeploy } from "./execute.ts";
import { clearStaleRunDir, makeRunDir, staleRunDirs } from "./owner.ts";
import {
  DEFAULT_MAX_ACTIVATIONS,
  DEFAULT_PARALLEL,
  DEPLOY_MODES,
  type DeployMode,
  type DeployPlan,
  planDeploy,
} from "./plan.ts";
import { createProgress } from "./progress.ts";
import { reportTable } from "./report.ts";
import { describeSchedule } from "./schedule.ts";
import { buildSteps, describeStep, hostSteps, placeholderValues } from "./steps.ts";

/** Seams for tests: hooks into the executor and the recovery grace period. */
export interface MainOptions {
  hooks?: DeployHooks;
  recoveryGraceSeconds?: number;
}

function program() {
  return newProgram("deploy", "Build, copy, activate and confirm NixOS hosts, with magic rollback")
    .argument("[hosts...]", "hosts to deploy (also ones that are not deployable)")
    .option("--all", "every deployable host")
    .option(
      "-t, --tag <tag>",
      "deployable hosts with this tag (repeat, or a,b: any of them)",
      collect,
      [],
    )
    .option("--target <address>", "deploy the one selected host to this address")
    .addOption(
      new Option("--mode <mode>", "what switch-to-configuration does").choices(DEPLOY_MODES)
        .default("switch" as DeployMode),
    )
    .addOption(
      new Option("--build-on <where>", "build locally or on the target").choices(
        ["local", "remote"] as const,
      ),
    )
    .option("-p, --parallel <n>", "hosts deployed at once", String(DEFAULT_PARALLEL))
    .option(
      "--max-activations <n>",
      "hosts between activation and confirmation at once (at most --parallel)",
      String(DEFAULT_MAX_ACTIVATIONS),
    )
    .option("--confirm-timeout <seconds>", "override each host's confirmTimeout")
    .option("--no-rollback", "no magic rollback, no rollback after a failed activation or check")
    .option(
      "--ask",
      "show the closure diff and ask before activating each host (terminal only; one host " +
        "activates at a time)",
    )
    .option("--ask-sudo-password", "read the sudo password once; sent on stdin to sudo -S")
    .option("--no-check-sigs", "copy unsigned paths (nix copy --no-check-sigs)")
    .option(
      "--ssh-option <Key=Value>",
      "an extra ssh -o option (repeat; a value may be a list: ProxyJump=a,b), e.g. IdentityFile=…",
      collectSshOption,
      [],
    )
    .option("--connect-timeout <seconds>", "ssh ConnectTimeout", "10")
    .option(
      "--flake <ref>",
      "flake to deploy from (default: the repository root; host facts then come from lib/hosts.nix)",
    );
}

/** The signals that stop a deploy (each host's state printed, temp folder removed). */
const INTERRUPTS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** The exit code after each: 128 + the signal's number, as a shell reports a killed process. */
const INTERRUPT_EXIT: Record<(typeof INTERRUPTS)[number], number> = {
  SIGINT: 130,
  SIGTERM: 143,
  SIGHUP: 129,
};

function collect(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(",").map((v) => v.trim()).filter(Boolean)];
}

/** Entry point; returns the exit code. */
export function main(args: string[], seams: MainOptions = {}): Promise<number> {
  return runMain(async () => {
    const cli = program();
    cli.parse(args, { from: "user" });
    const opts = cli.opts();
    const names = cli.args;
    const killer = new KillController();
    const runner = createRunner({
      dryRun: opts.dryRun ?? false,
      verbose: opts.verbose ?? false,
      killSignal: killer.signal,
    });
    const root = await findRepoRoot(Deno.cwd(), opts.repo);
    const flake = opts.flake ?? root;
    const sshOptions = opts.sshOption;
    for (const tag of opts.tag) {
      if (!TAG.test(tag)) {
        throw new UsageError(`Invalid --tag "${tag}": expected a-z, 0-9, '_', '.', '-'`);
      }
    }
    if (opts.ask && !Deno.stdin.isTerminal()) {
      throw new UsageError("Cannot use --ask: stdin is not a terminal");
    }
    const facts = await readFleetFacts(runner, await factsSource(root, opts.flake));
    const plan = planDeploy(facts, { names, all: opts.all ?? false, tags: opts.tag }, {
      flake,
      mode: opts.mode,
      ...(opts.buildOn ? { buildOn: opts.buildOn } : {}),
      ...(opts.target ? { target: opts.target } : {}),
      parallel: positiveInt(opts.parallel, "--parallel"),
      // The question blocks the deployer until answered: no other host may then be between
      // activation and answer, or its confirm window would run out unseen.
      maxActivations: Math.min(
        positiveInt(opts.maxActivations, "--max-activations"),
        opts.ask ? 1 : Infinity,
      ),
      rollback: opts.rollback,
      ...(opts.confirmTimeout
        ? { confirmTimeout: positiveInt(opts.confirmTimeout, "--confirm-timeout") }
        : {}),
      noCheckSigs: !opts.checkSigs,
      askSudoPassword: opts.askSudoPassword ?? false,
    });
    const connectTimeout = positiveInt(opts.connectTimeout, "--connect-timeout");
    if (connectTimeout > MAX_TIMEOUT_SECONDS) {
      // Step timeouts add it up; past the timers' range they would fire at once.
      throw new UsageError(
        `Invalid --connect-timeout "${connectTimeout}": expected 1 to ${MAX_TIMEOUT_SECONDS} seconds`,
      );
    }

    const pinned = await loadPinnedKeys(root, plan.hosts.map((h) => h.host), "Cannot deploy");

    if (opts.dryRun) {
      const ssh: SshContext = {
        knownHostsFile: "<temp>/known_hosts",
        controlDir: "<temp>",
        extraOptions: sshOptions,
        connectTimeout,
      };
      const shown = dryRunSteps(plan, ssh, !opts.checkSigs, opts.verbose ?? false);
      if (opts.json) printResult(true, { dryRun: true, plan, steps: shown });
      else {
        console.log(printable(
          Object.entries(shown).map(([host, lines]) =>
            `${host}:\n${lines.map((l) => `  ${l}`).join("\n")}`
          ).join("\n"),
        ));
      }
      return 0;
    }

    await using runDir = await makeRunDir();
    const { dir: tempDir, id: deployer } = runDir;
    const cleanupRunner = createRunner({ verbose: opts.verbose ?? false });
    let interrupted: (typeof INTERRUPTS)[number] | undefined;
    let closing: Promise<void> | undefined;
    // SIGHUP: the terminal closed (a dropped ssh session to the machine that deploys). It ends
    // the deploy as SIGINT and SIGTERM do: host states printed (if anything still reads them),
    // temp folder and connections removed.
    const handlers = INTERRUPTS.map((signal) => {
      const handler = () => {
        if (interrupted !== undefined) return;
        interrupted = signal;
        try {
          runner.log(
            `${signal}: stopping; hosts already activating stay guarded by their supervisors`,
          );
        } catch {
          // A closed terminal: nothing to tell.
        }
        killer.kill("SIGTERM");
        // A command on a shared connection (an activation, a check) keeps its output open
        // through the connection's master, so its killed ssh client does not end it: the
        // deployer would wait for the host's command (up to its activation timeout). End the
        // masters too; the supervisors on the hosts outlive their dropped sessions.
        closing = exitMasters(tempDir, cleanupRunner).catch(() => {});
      };
      Deno.addSignalListener(signal, handler);
      return [signal, handler] as const;
    });
    try {
      const deadDeployers = await cleanStaleRunDirs(tempDir, cleanupRunner);
      const ssh: SshContext = {
        knownHostsFile: `${tempDir}/known_hosts`,
        controlDir: tempDir,
        extraOptions: sshOptions,
        connectTimeout,
      };
      if (/\s/.test(ssh.knownHostsFile)) {
        throw new UsageError(`Cannot use temp folder "${tempDir}": its path has spaces`);
      }
      await writeKnownHosts(ssh.knownHostsFile, pinned.values());

      const sudoPassword = opts.askSudoPassword && plan.hosts.some((h) => h.sudo === "password")
        ? await readSecret("sudo password: ")
        : undefined;
      const live = Deno.stderr.isTerminal() && !opts.verbose;
      const progress = createProgress(plan.hosts.map((h) => h.host), { live });
      const report = await executeDeploy(plan, {
        runner,
        cleanupRunner,
        progress,
        ssh,
        pinnedKeys: pinned,
        noCheckSigs: !opts.checkSigs,
        deployer,
        deadDeployers,
        interrupted: () => interrupted !== undefined,
        ...(opts.ask
          ? { ask: oneQuestionAtATime((host: string) => askYesNo(`Activate ${host}? [y/N] `)) }
          : {}),
        ...(sudoPassword !== undefined ? { sudoPassword } : {}),
        ...(seams.hooks ? { hooks: seams.hooks } : {}),
        ...(seams.recoveryGraceSeconds !== undefined
          ? { recoveryGraceSeconds: seams.recoveryGraceSeconds }
          : {}),
      });
      // A supervisor this run did not see final may be found by a later run: the owner file,
      // left unlocked, proves to it that this deployer is gone (so it may adopt or cancel).
      if (report.hosts.some((h) => h.rolledBack === "expected")) runDir.keepOwner();
      try {
        printResult(
          opts.json,
          { ...report, ...(interrupted ? { interrupted } : {}) },
          reportTable(report),
        );
      } catch (error) {
        // After SIGHUP the terminal may be gone; the exit code still tells.
        if (interrupted !== "SIGHUP") throw error;
      }
      if (interrupted !== undefined) return INTERRUPT_EXIT[interrupted];
      return report.ok ? 0 : 1;
    } finally {
      for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
      await closing;
    }
  });
}

/**
 * Removes what deployers killed without cleanup left in the temp folder: their shared
 * connections (asked to exit through their sockets) and all but their owner files, kept (for a
 * day) as the proof a later rerun of a host they left waiting needs. Only folders whose owner
 * process is dead: another deployer may be working on other hosts. Returns the ids of those
 * dead deployers.
 */
async function cleanStaleRunDirs(ownDir: string, runner: Runner): Promise<Set<string>> {
  const dead = new Set<string>();
  for (const { dir, owner } of await staleRunDirs(ownDir)) {
    dead.add(owner);
    await exitMasters(dir, runner);
    await clearStaleRunDir(dir);
  }
  return dead;
}

/**
 * Asks each shared connection whose socket is in `dir` to exit now (ending its sessions). A
 * folder gone meanwhile (another deployer cleaning up at the same time) has none left.
 */
export async function exitMasters(dir: string, runner: Runner): Promise<void> {
  const entries = await Array.fromAsync(Deno.readDir(dir)).catch((error) => {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  });
  for (const entry of entries) {
    if (!entry.name.endsWith(".sock")) continue;
    await runner.run({
      argv: ["ssh", "-o", `ControlPath=${dir}/${entry.name}`, "-O", "exit", "--", "stale"],
      okCodes: [255],
      timeoutMs: 5000,
    }).catch(() => {});
  }
}

/** The steps a deploy of `plan` runs, per host, as the executor would run them (placeholders for unknown paths). */
export function dryRunSteps(
  plan: DeployPlan,
  ssh: SshContext,
  noCheckSigs: boolean,
  full = false,
): Record<string, string[]> {
  const shown: Record<string, string[]> = {
    "all hosts": [
      describeSchedule(plan.parallel, plan.maxActivations),
      ...buildSteps(plan).map((step) => describeStep(step, full)),
    ],
  };
  for (const host of plan.hosts) {
    shown[host.host] = hostSteps(host, ssh, placeholderValues(host), { noCheckSigs }).map(
      (step) => describeStep(step, full),
    );
  }
  return shown;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
