// The whole deploy flow on a machine with no fleet: three local test hosts, a demo fleet, two
// deploys through `deno task deploy` (one host fails its health check and rolls itself back),
// then everything removed. Needs root. `deno task demo --help`.
import { Option } from "@commander-js/extra-typings";
import { newProgram, printResult, runMain } from "../lib/cli.ts";
import { UsageError } from "../lib/errors.ts";
import { startProcess } from "../lib/process_runner.ts";
import { runDemo, signalExitCode } from "./execute.ts";
import { ownNetworkNamespace } from "./namespace.ts";
import { type DemoStep, deployCommand, PLACEHOLDER_PATHS, planDemo } from "./plan.ts";
import { preflight } from "./preflight.ts";

/** Names the outer demo's pid to the inner one, which it starts in a new network namespace. */
const OUTER_PID_VARIABLE = "DEVOPS_DEMO_OUTER_PID";

/** The checkout this program belongs to: its deno.json runs the demo in the namespace. */
const CHECKOUT = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");

function program() {
  const cli = newProgram(
    "demo",
    "Deploy a demo fleet to three local test hosts (two confirm, one rolls back), then remove everything; needs root",
  )
    .addOption(
      new Option("--in-namespace", "internal: run inside the network namespace").hideHelp(),
    )
    .addHelpText(
      "after",
      `
Runs as root: each test host is a real sshd in a mount namespace of its own, and the demo runs
them and the deploys in a network namespace of its own, so they never meet the machine's own
sshd. Nothing global changes: nix gets its settings through NIX_CONFIG, ~/.ssh is not written.`,
    );
  // The shared --repo has no use here (the demo makes its own repository): refused, not shown.
  cli.options.find((option) => option.long === "--repo")?.hideHelp();
  return cli;
}

/** Entry point; returns the exit code. */
export function main(args: string[]): Promise<number> {
  return runMain(async () => {
    const cli = program();
    cli.parse(args, { from: "user" });
    const opts = cli.opts();
    if (opts.repo !== undefined) {
      throw new UsageError("Cannot use --repo: the demo makes its own fleet repository");
    }
    const json = opts.json ?? false;
    if (opts.dryRun) {
      printDryRun(planDemo(PLACEHOLDER_PATHS, { json }), json);
      return 0;
    }
    if (opts.inNamespace) {
      // Outside a namespace of its own, the demo's hosts would meet the machine's sshd.
      // Only the demo's own outer process may start it: the inner demo ends every other process
      // in its network namespace, and one entered by hand (`ip netns exec`) holds others' too.
      const outer = Deno.env.get(OUTER_PID_VARIABLE);
      Deno.env.delete(OUTER_PID_VARIABLE);
      if (outer !== String(Deno.ppid) || await ownNetworkNamespace() === undefined) {
        throw new UsageError("Cannot use --in-namespace: it is internal; run deno task demo");
      }
      return await runDemo({ json, verbose: opts.verbose ?? false });
    }
    await preflight();
    return await runInNetworkNamespace(args);
  });
}

/** What --dry-run prints: the steps the executor runs, the deploy commands among them. */
function printDryRun(steps: readonly DemoStep[], json: boolean): void {
  if (json) {
    printResult(true, { dryRun: true, steps });
    return;
  }
  for (const step of steps) console.error(`would ${stepText(step)}`);
}

function stepText(step: DemoStep): string {
  switch (step.kind) {
    case "start-hosts":
      return `start test hosts ${
        step.hosts.join(", ")
      } (sshd on 127.0.0.N in a network namespace of the demo's own)`;
    case "write-fleet":
      return `write the demo fleet for ${step.release.title} to ${step.dir}`;
    case "deploy":
      return `run: ${deployCommand(step.args)}`;
    case "check":
      return `check what each host runs after release ${step.release.release}`;
    case "clean-up":
      return "stop the test hosts and remove every folder the demo made";
  }
}

/**
 * Runs this program again inside a new network namespace (`unshare --net`): there, 127.0.0.N:22
 * is free whatever the machine's own sshd listens on, and the namespace ends with its last
 * process. Signals are passed on; the inner demo cleans up.
 */
async function runInNetworkNamespace(args: readonly string[]): Promise<number> {
  // The child is this demo again, alive for the whole run, with signals passed on to it.
  const child = startProcess([
    "setpriv",
    "--pdeathsig",
    "TERM",
    "--",
    "unshare",
    "--net",
    "--",
    Deno.execPath(),
    "run",
    "--allow-all",
    "--config",
    `${CHECKOUT}/deno.json`,
    new URL(import.meta.url).pathname,
    "--in-namespace",
    ...args,
  ], {
    env: { [OUTER_PID_VARIABLE]: String(Deno.pid) },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  });
  const forward = (signal: Deno.Signal) => () => child.kill(signal);
  const handlers = (["SIGINT", "SIGTERM"] as const).map((s) => [s, forward(s)] as const);
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
  try {
    const status = await child.status;
    return status.signal !== null ? signalExitCode(status.signal) : status.code;
  } finally {
    for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
