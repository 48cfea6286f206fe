// Deploys NixOS hosts: build, copy, activate, confirm or roll back. `deno task deploy --help`.
import { Option } from "@commander-js/extra-typings";
import { newProgram, printResult, runMain, runnerFor } from "../lib/cli.ts";
import { UsageError } from "../lib/errors.ts";
import { formatCommand } from "../lib/quote.ts";
import { findRepoRoot } from "../lib/repo.ts";
import {
  activateCommand,
  buildArgv,
  closeMasterArgv,
  controlCommand,
  copyArgv,
  dryActivateCommand,
  evalToplevelsArgv,
  masterArgv,
  nixSshEnv,
  probeCommand,
  realiseCommand,
  sshArgv,
  type SshContext,
} from "./commands.ts";
import { type DeployHooks, executeDeploy } from "./execute.ts";
import { readFleetFacts } from "./facts.ts";
import { knownHostsText, parsePublicKey, type PinnedKey } from "./known_hosts.ts";
import {
  DEFAULT_PARALLEL,
  DEPLOY_MODES,
  type DeployMode,
  type DeployPlan,
  planDeploy,
  usesMagicRollback,
} from "./plan.ts";
import { createProgress } from "./progress.ts";
import { reportTable } from "./report.ts";

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
    .option("--confirm-timeout <seconds>", "override each host's confirmTimeout")
    .option("--no-rollback", "no magic rollback, no rollback after a failed activation or check")
    .option("--ask", "show the closure diff and ask before activating each host (terminal only)")
    .option("--ask-sudo-password", "read the sudo password once; sent on stdin to sudo -S")
    .option("--no-check-sigs", "copy unsigned paths (nix copy --no-check-sigs)")
    .option(
      "--ssh-option <Key=Value>",
      "an extra ssh -o option (repeat), e.g. IdentityFile=…",
      collect,
      [],
    )
    .option("--connect-timeout <seconds>", "ssh ConnectTimeout", "10")
    .option("--flake <ref>", "flake to deploy from (default: the repository root)");
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(",").map((v) => v.trim()).filter(Boolean)];
}

function positiveInt(value: string, flag: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) {
    throw new UsageError(`Invalid ${flag} "${value}": expected a whole number ≥ 1`);
  }
  return Number(value);
}

/** Entry point; returns the exit code. */
export function main(args: string[], seams: MainOptions = {}): Promise<number> {
  return runMain(async () => {
    const cli = program();
    cli.parse(args, { from: "user" });
    const opts = cli.opts();
    const names = cli.args;
    const runner = runnerFor(opts);
    const root = await findRepoRoot(Deno.cwd(), opts.repo);
    const flake = opts.flake ?? root;
    const sshOptions = opts.sshOption;
    for (const o of sshOptions) {
      if (!/^[A-Za-z]+=\S+$/.test(o)) {
        throw new UsageError(`Invalid --ssh-option "${o}": expected Key=Value without spaces`);
      }
    }
    if (opts.ask && !Deno.stdin.isTerminal()) {
      throw new UsageError("Cannot use --ask: stdin is not a terminal");
    }
    const facts = await readFleetFacts(runner, flake);
    const plan = planDeploy(facts, { names, all: opts.all ?? false, tags: opts.tag }, {
      flake,
      mode: opts.mode,
      ...(opts.buildOn ? { buildOn: opts.buildOn } : {}),
      ...(opts.target ? { target: opts.target } : {}),
      parallel: positiveInt(opts.parallel, "--parallel"),
      rollback: opts.rollback,
      ...(opts.confirmTimeout
        ? { confirmTimeout: positiveInt(opts.confirmTimeout, "--confirm-timeout") }
        : {}),
      noCheckSigs: !opts.checkSigs,
      askSudoPassword: opts.askSudoPassword ?? false,
    });

    const pinned = new Map<string, PinnedKey>();
    for (const host of plan.hosts) {
      const file = `configurations/${host.host}/ssh_host_ed25519_key.pub`;
      const text = await Deno.readTextFile(`${root}/${file}`).catch(() => undefined);
      if (text === undefined) {
        throw new UsageError(
          `Cannot deploy "${host.host}": no pinned host key, ${file} is missing`,
        );
      }
      pinned.set(host.host, {
        host: host.host,
        address: host.address,
        port: host.port,
        key: parsePublicKey(text, file),
      });
    }

    const tempDir = await Deno.makeTempDir({ prefix: "devops-deploy-" });
    try {
      const ssh: SshContext = {
        knownHostsFile: `${tempDir}/known_hosts`,
        controlDir: tempDir,
        extraOptions: sshOptions,
        connectTimeout: positiveInt(opts.connectTimeout, "--connect-timeout"),
      };
      if (/\s/.test(ssh.knownHostsFile)) {
        throw new UsageError(`Cannot use temp folder "${tempDir}": its path has spaces`);
      }
      await Deno.writeTextFile(ssh.knownHostsFile, knownHostsText([...pinned.values()]), {
        mode: 0o600,
      });

      if (opts.dryRun) {
        const shown = dryRunPlan(plan, ssh, !opts.checkSigs);
        if (opts.json) printResult(true, { dryRun: true, plan, commands: shown });
        else {for (const [host, lines] of Object.entries(shown)) {
            runner.log(`${host}:\n${lines.map((l) => `  would run: ${l}`).join("\n")}`);
          }}
        return 0;
      }

      const sudoPassword = opts.askSudoPassword && plan.hosts.some((h) => h.sudo === "password")
        ? await readSecret("sudo password: ")
        : undefined;
      const live = Deno.stderr.isTerminal() && !opts.verbose;
      const progress = createProgress(plan.hosts.map((h) => h.host), { live });
      const report = await executeDeploy(plan, {
        runner,
        progress,
        ssh,
        pinnedKeys: pinned,
        noCheckSigs: !opts.checkSigs,
        ...(opts.ask ? { ask: askOnTerminal() } : {}),
        ...(sudoPassword !== undefined ? { sudoPassword } : {}),
        ...(seams.hooks ? { hooks: seams.hooks } : {}),
        ...(seams.recoveryGraceSeconds !== undefined
          ? { recoveryGraceSeconds: seams.recoveryGraceSeconds }
          : {}),
      });
      printResult(opts.json, report, reportTable(report));
      return report.ok ? 0 : 1;
    } finally {
      await Deno.remove(tempDir, { recursive: true }).catch(() => {});
    }
  });
}

/** Every command a deploy of `plan` runs, per host, with placeholders for unknown paths. */
export function dryRunPlan(
  plan: DeployPlan,
  ssh: SshContext,
  noCheckSigs: boolean,
): Record<string, string[]> {
  const show = (argv: readonly string[], env?: Record<string, string>) =>
    `${env ? Object.entries(env).map(([k, v]) => `${k}=${formatCommand([v])} `).join("") : ""}${
      formatCommand(argv)
    }`;
  const names = plan.hosts.map((h) => h.host);
  const [only] = plan.hosts;
  const direct = plan.hosts.length === 1 && only!.buildOn === "local";
  const local = plan.hosts.filter((h) => h.buildOn === "local").map((h) => `<drv of ${h.host}>`);
  const shown: Record<string, string[]> = {
    "all hosts": direct ? [show(buildArgv([`${plan.flake}#${only!.toplevelAttr}`]))] : [
      show(evalToplevelsArgv(plan.flake, names)),
      ...(local.length ? [show([...buildArgv(local), "--keep-going"])] : []),
    ],
  };
  for (const host of plan.hosts) {
    const out = `<toplevel of ${host.host}>`;
    const env = nixSshEnv(host, ssh);
    const lines = [show(masterArgv(host, ssh, 600))];
    if (host.buildOn === "remote") {
      lines.push(
        show(copyArgv(host, `<drv of ${host.host}>`, { noCheckSigs, derivation: true }), env),
      );
      lines.push(show(sshArgv(host, ssh, realiseCommand(`<drv of ${host.host}>`))));
    } else {
      lines.push(show(copyArgv(host, out, { noCheckSigs }), env));
    }
    lines.push(show(sshArgv(host, ssh, probeCommand(out))));
    if (host.mode === "dry-activate") {
      lines.push(show(sshArgv(host, ssh, dryActivateCommand(host, out))));
    } else {
      lines.push(show(sshArgv(host, ssh, activateCommand(host, "<state dir>", out))));
      for (const check of host.healthChecks) lines.push(show(sshArgv(host, ssh, check, "new")));
      if (usesMagicRollback(host)) {
        const confirm = controlCommand(host, "<state dir>", "confirm", host.confirmTimeout + 10);
        lines.push(show(sshArgv(host, ssh, confirm, "new")));
      }
    }
    lines.push(show(closeMasterArgv(host, ssh)));
    shown[host.host] = lines;
  }
  return shown;
}

/** Asks "Activate <host>? [y/N]" on the terminal, one host at a time. */
function askOnTerminal(): (host: string) => Promise<boolean> {
  let chain = Promise.resolve(true);
  return (host) => {
    const answer = chain.then(() => {
      const reply = prompt(`Activate ${host}? [y/N]`);
      return /^y(es)?$/i.test(reply?.trim() ?? "");
    });
    chain = answer.catch(() => false);
    return answer;
  };
}

/** Reads one line without echo on a terminal, or the first line of stdin otherwise. */
async function readSecret(question: string): Promise<string> {
  const encoder = new TextEncoder();
  const terminal = Deno.stdin.isTerminal();
  if (terminal) {
    Deno.stderr.writeSync(encoder.encode(question));
    Deno.stdin.setRaw(true);
  }
  const bytes: number[] = [];
  const buffer = new Uint8Array(1);
  try {
    while ((await Deno.stdin.read(buffer)) === 1) {
      const byte = buffer[0]!;
      if (byte === 3) throw new UsageError("Cancelled");
      if (byte === 10 || byte === 13) break;
      if (byte === 127) bytes.pop();
      else bytes.push(byte);
    }
  } finally {
    if (terminal) {
      Deno.stdin.setRaw(false);
      Deno.stderr.writeSync(encoder.encode("\n"));
    }
  }
  return new TextDecoder().decode(new Uint8Array(bytes));
}

if (import.meta.main) Deno.exit(await main(Deno.args));
