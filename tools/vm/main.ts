// Boots a host's configuration as a local VM and checks it as deploy would: `deno task vm <host>`
// builds `config.system.build.vm`, boots it headless with SSH on 127.0.0.1 only, waits for SSH
// pinning the key the VM runs with, runs the host's health checks through the fleet layer and
// powers the VM off (`--keep` leaves it running). `deno task vm --help`.
import { KillController } from "dax";
import { newProgram, positiveInt, printResult, runMain } from "../lib/cli.ts";
import { UsageError } from "../lib/errors.ts";
import { pathExists } from "../lib/fs.ts";
import { findRepoRoot } from "../lib/repo.ts";
import { createRunner } from "../lib/runner.ts";
import { printable } from "../lib/terminal.ts";
import {
  collectSshOption,
  factsSource,
  loadPinnedKeys,
  MAX_TIMEOUT_SECONDS,
  parseHostKey,
  portProblem,
  readFleetFacts,
} from "../lib/fleet/mod.ts";
import { runVm, type VmReport, vmReportText } from "./execute.ts";
import {
  DEFAULT_BOOT_TIMEOUT,
  describeVmStep,
  DEV_VM_KEY_FILES,
  PLACEHOLDERS,
  planVm,
  vmKey,
  vmSteps,
} from "./plan.ts";

function program() {
  return newProgram(
    "vm",
    "Boot a host's configuration as a local VM, check it as deploy would, power it off",
  )
    .argument("<host>", "the host whose configuration to boot")
    .option("--keep", "leave the VM running after the checks and print how to connect")
    .option("--port <port>", "port on 127.0.0.1 forwarded to the VM's SSH (default: a free one)")
    .option(
      "--timeout <seconds>",
      "bound on the wait for SSH after the VM starts",
      String(DEFAULT_BOOT_TIMEOUT),
    )
    .option(
      "--ssh-option <Key=Value>",
      "an extra ssh -o option (repeat), e.g. IdentityFile=~/.ssh/id_ed25519",
      collectSshOption,
      [],
    )
    .option("--connect-timeout <seconds>", "ssh ConnectTimeout", "5")
    .option(
      "--flake <ref>",
      "flake to build from (default: the repository root; host facts then come from lib/hosts.nix)",
    );
}

/** The signals that stop a run (the VM stopped, the run folder removed) and their exit codes. */
const INTERRUPTS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
type Interrupt = keyof typeof INTERRUPTS;

/** A TCP port on 127.0.0.1 that was free a moment ago. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** Entry point; returns the exit code. */
export function main(args: string[]): Promise<number> {
  return runMain(async () => {
    const cli = program();
    cli.parse(args, { from: "user" });
    const opts = cli.opts();
    const host = cli.args[0]!;
    const killer = new KillController();
    const runner = createRunner({
      dryRun: false,
      verbose: opts.verbose ?? false,
      killSignal: killer.signal,
    });
    const root = await findRepoRoot(Deno.cwd(), opts.repo);
    const bootTimeout = positiveInt(opts.timeout, "--timeout");
    const connectTimeout = positiveInt(opts.connectTimeout, "--connect-timeout");
    for (
      const [flag, value] of [["--timeout", bootTimeout], ["--connect-timeout", connectTimeout]]
    ) {
      if (Number(value) > MAX_TIMEOUT_SECONDS) {
        throw new UsageError(
          `Invalid ${flag} "${value}": expected 1 to ${MAX_TIMEOUT_SECONDS} seconds`,
        );
      }
    }
    if (opts.port !== undefined && portProblem(opts.port) !== undefined) {
      throw new UsageError(`Invalid --port "${opts.port}": ${portProblem(opts.port)}`);
    }
    const facts = await readFleetFacts(runner, await factsSource(root, opts.flake));
    const hostFacts = facts[host];
    if (hostFacts === undefined) {
      throw new UsageError(
        `Cannot boot "${host}": no such host (hosts: ${Object.keys(facts).sort().join(", ")})`,
      );
    }
    const existing = new Set<string>();
    for (const file of DEV_VM_KEY_FILES) {
      if (await pathExists(`${root}/${file}`)) existing.add(file);
    }
    const key = vmKey(host, existing);
    const plan = planVm(host, hostFacts, {
      flake: opts.flake ?? root,
      port: opts.port === undefined ? freePort() : Number(opts.port),
      bootTimeout,
      connectTimeout,
      sshOptions: opts.sshOption,
      keep: opts.keep ?? false,
      key,
    });
    // The committed pin of a repository key, read before anything starts.
    const pinned = key.kind === "repository"
      ? (await loadPinnedKeys(root, [host], "Cannot boot")).get(host)!.key
      : undefined;

    if (opts.dryRun) {
      const steps = vmSteps(plan, PLACEHOLDERS).map(describeVmStep);
      if (opts.json) printResult(true, { dryRun: true, plan, steps });
      else console.log(printable(steps.map((l) => `${host}: ${l}`).join("\n")));
      return 0;
    }

    let interrupted: Interrupt | undefined;
    const handlers = (Object.keys(INTERRUPTS) as Interrupt[]).map((signal) => {
      const handler = () => {
        if (interrupted !== undefined) return;
        interrupted = signal;
        try {
          runner.log(`${signal}: stopping the VM`);
        } catch {
          // A closed terminal: nothing to tell.
        }
        killer.kill("SIGTERM");
      };
      Deno.addSignalListener(signal, handler);
      return [signal, handler] as const;
    });
    let report: VmReport;
    try {
      report = await runVm(plan, {
        runner,
        root,
        pinnedKey: pinned === undefined ? undefined : parseHostKey(pinned, "the pinned key"),
        interrupted: () => interrupted !== undefined,
      });
    } finally {
      for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
    }
    try {
      printResult(
        opts.json,
        { ...report, ...(interrupted ? { interrupted } : {}) },
        vmReportText(report),
      );
    } catch (error) {
      if (interrupted !== "SIGHUP") throw error;
    }
    if (interrupted !== undefined) return INTERRUPTS[interrupted];
    return report.outcome.kind === "healthy" ? 0 : 1;
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
