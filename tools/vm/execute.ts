// Runs a VM plan's steps (plan.ts): the build, the host key, the VM in a process group of its
// own, the bounded wait for SSH, the health checks over the fleet layer's pinned connection,
// and the power-off, which runs whatever happened before (a failure, SIGINT) unless --keep.
import { CommandError } from "../lib/errors.ts";
import {
  diagnoseMismatch,
  fingerprint,
  isUnreachable,
  parseHostKey,
  runSsh,
  writeKnownHosts,
} from "../lib/fleet/mod.ts";
import { type StartedProcess, startProcess } from "../lib/process_runner.ts";
import type { Runner } from "../lib/runner.ts";
import {
  buildArgv,
  keepText,
  runFiles,
  STOP_GRACE_SECONDS,
  type VmPlan,
  type VmStep,
  vmSteps,
  type VmValues,
} from "./plan.ts";

/** Where the run folder is made: paths without spaces (known_hosts goes into ssh options). */
export const RUN_PARENT = "/tmp";

/** One health check's result. */
export type CheckResult =
  | { check: string; passed: true }
  | { check: string; passed: false; detail: string };

/** How a VM run ended. */
export type VmOutcome =
  | { kind: "healthy" }
  | {
    kind: "failed";
    step: "build" | "host-key" | "boot" | "ssh" | "health-check" | "interrupted";
    cause: string;
  };

/** What `deno task vm` reports. */
export interface VmReport {
  host: string;
  address: string;
  port: number;
  /** `SHA256:…` of the key pinned for the run. */
  pinned?: string;
  checks: CheckResult[];
  outcome: VmOutcome;
  /** The VM was stopped (false: --keep, or it never started). */
  stopped: boolean;
  /** --keep: the VM's pid (its process group) and the run folder. */
  kept?: { pid: number; run: string; connect: string };
}

/** What the executor needs. */
export interface VmDeps {
  runner: Runner;
  /** The repository root (the repository key's path is relative to it). */
  root: string;
  /** The committed key of a repository key (dev-vm), checked against the private one. */
  pinnedKey: string | undefined;
  interrupted: () => boolean;
}

class StepFailed extends Error {
  constructor(readonly step: Exclude<VmOutcome, { kind: "healthy" }>["step"], cause: string) {
    super(cause);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The last lines of the VM's console log (for an error message), or "". */
async function consoleTail(file: string, lines = 3): Promise<string> {
  const text = await Deno.readTextFile(file).catch(() => "");
  const tail = text.trim().split("\n").filter((l) => l.trim() !== "").slice(-lines);
  return tail.length === 0 ? "" : `; its console ended: ${tail.join(" | ")}`;
}

/** Stops the VM: SIGTERM to its process group, SIGKILL after the grace period. */
export async function stopVm(vm: StartedProcess, hasEnded: () => boolean): Promise<void> {
  const group = (signal: Deno.Signal) => {
    try {
      Deno.kill(-vm.pid, signal);
    } catch {
      // The group is gone.
    }
  };
  // Already ended (and reaped): its id may name someone else's processes now.
  if (hasEnded()) return;
  group("SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const ended = await Promise.race([
    vm.status.then(() => true),
    new Promise<false>((resolve) =>
      timer = setTimeout(() => resolve(false), STOP_GRACE_SECONDS * 1000)
    ),
  ]);
  clearTimeout(timer);
  if (ended) return;
  // Not after a clean end: the group's id may then name someone else's processes.
  group("SIGKILL");
  await vm.status;
}

/** Runs the plan; never leaves the VM running unless the plan keeps it. */
export async function runVm(plan: VmPlan, deps: VmDeps): Promise<VmReport> {
  const { runner } = deps;
  const report: VmReport = {
    host: plan.host,
    address: plan.target.address,
    port: plan.target.port,
    checks: [],
    outcome: { kind: "healthy" },
    stopped: false,
  };
  const run = await Deno.makeTempDir({ dir: RUN_PARENT, prefix: "devops-vm-" });
  await Deno.chmod(run, 0o700);
  const files = runFiles(run);
  let vm: StartedProcess | undefined;
  let keep = false;
  let pinned: string | undefined;
  let vmEnded = false;
  try {
    runner.log(`${plan.host}: building the VM`);
    const built = await runner.text({ argv: buildArgv(plan), timeoutMs: 6 * 3600_000 }).catch(
      (error) => {
        if (deps.interrupted()) throw new StepFailed("interrupted", "interrupted during the build");
        throw new StepFailed("build", `Cannot build the VM of "${plan.host}": ${short(error)}`);
      },
    );
    let path = "";
    try {
      path = (JSON.parse(built) as { outputs: { out: string } }[])[0]?.outputs.out ?? "";
    } catch {
      // No JSON: reported below.
    }
    if (!path.startsWith("/")) {
      throw new StepFailed("build", `Cannot build the VM of "${plan.host}": nix printed no path`);
    }
    const values: VmValues = { run, vm: path };
    const runnerFile = `${path}/bin/${plan.runner}`;
    if (!(await Deno.stat(runnerFile).then((s) => s.isFile, () => false))) {
      throw new StepFailed(
        "build",
        `Cannot boot "${plan.host}": the build has no bin/${plan.runner} (is it config.system.build.vm?)`,
      );
    }
    const steps = vmSteps(plan, values);
    await Deno.mkdir(files.keys, { mode: 0o700 });
    await Deno.mkdir(files.tmp, { mode: 0o700 });
    for (const step of steps.slice(1)) {
      if (deps.interrupted()) {
        throw new StepFailed("interrupted", `interrupted before ${step.kind}`);
      }
      switch (step.kind) {
        case "host-key":
          await hostKey(step, deps, files.hostKey);
          pinned = await pinOf(plan, deps, files.hostKey);
          report.pinned = fingerprint(pinned);
          await writeKnownHosts(files.knownHosts, [{ host: plan.host, key: pinned }]);
          break;
        case "boot":
          runner.log(`${plan.host}: booting, SSH forwarded to 127.0.0.1:${plan.target.port}`);
          vm = startProcess(step.argv, {
            stdin: "null",
            stdout: "null",
            stderr: "null",
            detached: true,
            env: step.env,
          });
          vm.status.then(() => vmEnded = true);
          break;
        case "wait-ssh":
          await waitForSsh(plan, step, { ...deps, pinnedKey: pinned }, vm!, files.console);
          runner.log(`${plan.host}: SSH answers with the pinned key ${report.pinned}`);
          break;
        case "health-check": {
          if (deps.interrupted()) throw new StepFailed("interrupted", "interrupted");
          runner.log(`${plan.host}: checking: ${step.check}`);
          const result = await runSsh(runner, step.argv, step.timeoutSeconds * 1000);
          if (deps.interrupted()) throw new StepFailed("interrupted", "interrupted during a check");
          if (result.ok) report.checks.push({ check: step.check, passed: true });
          else {
            const detail = "failure" in result
              ? `no connection: ${result.failure.detail}`
              : `exit ${result.code}${
                result.code === 124 ? ` (over ${plan.healthCheckTimeout} s)` : ""
              }${result.stderr.trim() ? `: ${lastLine(result.stderr)}` : ""}`;
            report.checks.push({ check: step.check, passed: false, detail });
          }
          break;
        }
        case "keep":
          keep = true;
          report.kept = { pid: vm!.pid, run, connect: keepText(plan, values, vm!.pid) };
          break;
        case "power-off":
        case "build":
          break;
      }
    }
    const failed = report.checks.filter((c) => !c.passed);
    if (failed.length > 0) {
      report.outcome = {
        kind: "failed",
        step: "health-check",
        cause: failed.map((c) => `Health check "${c.check}" failed: ${c.passed ? "" : c.detail}`)
          .join("; "),
      };
    }
  } catch (error) {
    if (!(error instanceof StepFailed)) throw error;
    report.outcome = { kind: "failed", step: error.step, cause: error.message };
  } finally {
    if (!keep) {
      if (vm !== undefined) {
        runner.log(`${plan.host}: powering the VM off`);
        await stopVm(vm, () => vmEnded);
        report.stopped = true;
      }
      await Deno.remove(run, { recursive: true }).catch(() => {});
    }
  }
  return report;
}

/** Puts the VM's private host key in place and returns its public key. */
async function hostKey(
  step: Extract<VmStep, { kind: "host-key" }>,
  deps: VmDeps,
  file: string,
): Promise<string> {
  if (step.copy !== undefined) {
    const key = await Deno.readFile(`${deps.root}/${step.copy.from}`).catch(() => {
      throw new StepFailed("host-key", `Cannot read the VM key "${step.copy!.from}"`);
    });
    await Deno.writeFile(step.copy.to, key, { mode: 0o600 });
  } else {
    await deps.runner.run({ argv: step.argv!, timeoutMs: 60_000 }).catch((error) => {
      throw new StepFailed("host-key", `Cannot make a host key for the VM: ${short(error)}`);
    });
  }
  // What the VM will present: the private key's own public half.
  const presented = await deps.runner.text({
    argv: ["ssh-keygen", "-y", "-f", file],
    timeoutMs: 60_000,
  })
    .catch((error) => {
      throw new StepFailed("host-key", `Cannot read the VM key: ${short(error)}`);
    });
  return parseHostKey(presented, step.copy?.from ?? "the throw-away key");
}

/** The key pinned for the run: the repository's .pub for a repository key, else the new one. */
async function pinOf(plan: VmPlan, deps: VmDeps, file: string): Promise<string> {
  if (plan.key.kind === "repository" && deps.pinnedKey !== undefined) return deps.pinnedKey;
  return parseHostKey(await Deno.readTextFile(`${file}.pub`), "the throw-away key");
}

/** Waits for SSH with the pinned key, bounded; a key mismatch is refused at once. */
async function waitForSsh(
  plan: VmPlan,
  step: Extract<VmStep, { kind: "wait-ssh" }>,
  deps: VmDeps,
  vm: StartedProcess,
  consoleLog: string,
): Promise<void> {
  const deadline = Date.now() + step.timeoutSeconds * 1000;
  let exited: Deno.CommandStatus | undefined;
  vm.status.then((status) => exited = status);
  let last = "no answer yet";
  while (true) {
    if (deps.interrupted()) {
      throw new StepFailed("interrupted", "interrupted while waiting for SSH");
    }
    if (exited !== undefined) {
      throw new StepFailed(
        "boot",
        `The VM of "${plan.host}" stopped before SSH answered (exit ${exited.code})${await consoleTail(
          consoleLog,
        )}`,
      );
    }
    const left = deadline - Date.now();
    if (left <= 0) break;
    const result = await runSsh(
      deps.runner,
      step.argv,
      Math.min(left, (plan.connectTimeout + 5) * 1000),
    );
    if (result.ok) return;
    if (!("failure" in result)) {
      throw new StepFailed("ssh", `SSH to the VM of "${plan.host}" failed: exit ${result.code}`);
    }
    const failure = result.failure;
    if (failure.kind === "host-key-mismatch") {
      const m = await diagnoseMismatch(deps.runner, plan.target, deps.pinnedKey ?? undefined, 5)
        .catch(() => undefined);
      throw new StepFailed(
        "ssh",
        `Host key mismatch for the VM of "${plan.host}" at ${plan.target.address}:${plan.target.port}: ` +
          `expected ${m?.expected ?? "the key made for the run"}, it presented ${
            m?.presented ?? "another key"
          }; refused (the VM must read its host key from $DEVOPS_VM_KEYS, see "Update → VM test → deploy" in README.md)`,
      );
    }
    if (failure.kind === "auth") {
      throw new StepFailed(
        "ssh",
        `SSH to the VM of "${plan.host}" refused the login as "${plan.target.user}": ${failure.detail}; ` +
          "the VM takes the keys its configuration authorizes (give yours with --ssh-option IdentityFile=…)",
      );
    }
    if (!isUnreachable(failure)) last = failure.detail;
    else last = failure.detail || failure.kind;
    await sleep(Math.min(1000, Math.max(0, deadline - Date.now())));
  }
  throw new StepFailed(
    "ssh",
    `The VM of "${plan.host}" did not answer on SSH within ${step.timeoutSeconds} s (last: ${last}); ` +
      `it was stopped${await consoleTail(consoleLog)}; raise --timeout for a slow machine (no KVM)`,
  );
}

function lastLine(text: string): string {
  return text.trim().split("\n").filter((l) => l.trim() !== "").at(-1) ?? "";
}

function short(error: unknown): string {
  if (error instanceof CommandError) {
    const lines = error.stderrTail.split("\n").map((l) => l.trim());
    return lines.find((l) => l.startsWith("error:")) ??
      (lastLine(error.stderrTail) || `exit ${error.code}`);
  }
  return error instanceof Error ? error.message : String(error);
}

/** The report for people. */
export function vmReportText(report: VmReport): string {
  const lines: string[] = [];
  for (const c of report.checks) {
    lines.push(c.passed ? `  ok    ${c.check}` : `  FAIL  ${c.check}: ${c.detail}`);
  }
  const head = report.outcome.kind === "healthy"
    ? `${report.host}: healthy (${report.checks.length} check(s) passed)`
    : `${report.host}: failed at ${report.outcome.step}: ${report.outcome.cause}`;
  const tail = report.kept
    ? report.kept.connect
    : report.stopped
    ? `${report.host}: the VM was powered off`
    : `${report.host}: no VM was started`;
  return [head, ...lines, tail].join("\n");
}
