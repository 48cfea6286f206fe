// Shows what every host runs, whether it matches the repository, whether it needs a reboot and
// what is failing: one ssh command per host, all at once, each bounded. `deno task status --help`.
import { newProgram, positiveInt, runMain } from "../lib/cli.ts";
import { oneLineMessage, UsageError } from "../lib/errors.ts";
import {
  collectSshOption,
  createPinnedKnownHosts,
  diagnoseMismatch,
  factsSource,
  hostKeyMismatch,
  loadPinnedKeys,
  readFleetFacts,
  runSsh,
  TAG,
} from "../lib/fleet/mod.ts";
import { mapPool } from "../lib/pool.ts";
import { findRepoRoot } from "../lib/repo.ts";
import { createProcessRunner } from "../lib/process_runner.ts";
import type { Runner } from "../lib/runner.ts";
import {
  allHealthy,
  DEFAULT_STATUS_TIMEOUT,
  type Evaluated,
  type HostQuery,
  type HostStatus,
  judgeHost,
  parseStatusOutput,
  planStatus,
  selectStatusHosts,
  type StatusPlan,
  statusTable,
} from "../lib/status/mod.ts";
import { jsonForTerminal, printable, printableLine } from "../lib/terminal.ts";
import { formatCommand } from "../lib/quote.ts";
import { z } from "zod";

/** Hosts asked at once. */
const PARALLEL = 64;

function program() {
  return newProgram(
    "status",
    "What each host runs, whether it is in step with the repository, needs a reboot, or fails",
  )
    .argument("[hosts...]", "hosts to show (default: every deployable host)")
    .option("--all", "every deployable host")
    .option("-t, --tag <tag>", "deployable hosts with this tag (repeat, or a,b)", collect, [])
    .option("--eval", "also compare with each host's toplevel evaluated from the flake now")
    .option("--watch <seconds>", "show again every so many seconds, until interrupted")
    .option("--timeout <seconds>", "bound on each host's answer", String(DEFAULT_STATUS_TIMEOUT))
    .option("--connect-timeout <seconds>", "ssh ConnectTimeout", "10")
    .option(
      "--ssh-option <Key=Value>",
      "an extra ssh -o option (repeat), e.g. IdentityFile=…",
      collectSshOption,
      [],
    )
    .option("--flake <ref>", "flake of the hosts (default: the repository root)");
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(",").map((v) => v.trim()).filter(Boolean)];
}

/** Longer waits would overflow the timer (2^31 ms) and refresh at once instead. */
const MAX_WATCH_SECONDS = 86_400;
/** `--eval` evaluates every selected host's toplevel: slow on a cold cache, never unbounded. */
const EVAL_TIMEOUT_MS = 600_000;

/** Entry point; returns the exit code: 0 when every host is reachable, in step and healthy. */
export function main(args: string[]): Promise<number> {
  return runMain(async () => {
    const cli = program();
    cli.parse(args, { from: "user" });
    const opts = cli.opts();
    for (const tag of opts.tag) {
      if (!TAG.test(tag)) {
        throw new UsageError(`Invalid --tag "${tag}": expected a-z, 0-9, '_', '.', '-'`);
      }
    }
    const watch = opts.watch === undefined ? undefined : positiveInt(opts.watch, "--watch");
    if (watch !== undefined && watch > MAX_WATCH_SECONDS) {
      throw new UsageError(
        `Invalid --watch ${watch}: at most ${MAX_WATCH_SECONDS} seconds (a day); use cron for longer`,
      );
    }
    // Deno.Command, not dax: a process per host at once, and a faster start (no dax to load).
    const runner = createProcessRunner({ verbose: opts.verbose ?? false });
    const root = await findRepoRoot(Deno.cwd(), opts.repo);
    const flake = opts.flake ?? root;
    const facts = await readFleetFacts(runner, await factsSource(root, opts.flake));
    const connectTimeout = positiveInt(opts.connectTimeout, "--connect-timeout");
    const timeoutSeconds = positiveInt(opts.timeout, "--timeout");
    const selection = { names: cli.args, all: opts.all ?? false, tags: opts.tag };
    const hosts = selectStatusHosts(facts, selection);
    const pinned = await loadPinnedKeys(root, hosts, "Cannot show the status of");
    await using known = await createPinnedKnownHosts(pinned.values());
    const plan = planStatus(facts, selection, {
      ssh: {
        knownHostsFile: known.file,
        extraOptions: opts.sshOption,
        connectTimeout: Math.min(connectTimeout, timeoutSeconds),
      },
      timeoutSeconds,
      ...(opts.eval ? { eval: { flake } } : {}),
    });
    if (opts.dryRun) {
      // Nothing changes either way; the dry run shows what would be asked, and asks nothing.
      const lines = plan.hosts.map((q) =>
        `${q.host}: ${formatCommand(q.argv.slice(0, -1))} <status script, one command>`
      );
      if (plan.evalArgv) lines.push(`eval: ${formatCommand(plan.evalArgv)}`);
      console.log(printable(lines.join("\n")));
      return 0;
    }
    const colour = Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR");
    const show = async () => {
      const statuses = await gatherStatus(runner, plan, pinned);
      if (opts.json) {
        console.log(
          jsonForTerminal(
            JSON.stringify({ healthy: allHealthy(statuses), hosts: statuses }, null, 2),
          ),
        );
      } else {
        // Each cell is already printable (table.ts); the colours are ours.
        console.log(statusTable(statuses, { colour }));
      }
      return allHealthy(statuses) ? 0 : 1;
    };
    if (watch === undefined) return await show();
    while (true) {
      if (colour) console.log("\x1b[2J\x1b[H");
      await show();
      await new Promise((resolve) => setTimeout(resolve, watch * 1000));
    }
  });
}

/** Asks every host of the plan at once (and evaluates with --eval), each bounded. */
export async function gatherStatus(
  runner: Runner,
  plan: StatusPlan,
  pinned: Map<string, { key: string }>,
): Promise<HostStatus[]> {
  const evaluated = plan.evalArgv === undefined
    ? Promise.resolve(undefined)
    : evaluate(runner, plan.evalArgv);
  const results = await mapPool(plan.hosts, PARALLEL, (q) => askHost(runner, q, plan, pinned));
  const toplevels = await evaluated;
  return plan.hosts.map((q, i): HostStatus => {
    const result = results[i]!;
    if (!result.ok) {
      const detail = "error" in result ? oneLineMessage(result.error) : "not asked";
      return { kind: "unreachable", host: q.host, reason: "status-failed", detail };
    }
    const answer = result.value;
    if (answer.kind === "unreachable") return answer;
    let ev: Evaluated | undefined;
    if (toplevels !== undefined) {
      ev = toplevels.ok
        ? (toplevels.value[q.host] === undefined
          ? { ok: false, why: "no toplevel evaluated" }
          : { ok: true, toplevel: toplevels.value[q.host]! })
        : { ok: false, why: toplevels.why };
    }
    try {
      return judgeHost(q.host, parseStatusOutput(answer.stdout), ev);
    } catch (error) {
      return {
        kind: "unreachable",
        host: q.host,
        reason: "status-failed",
        detail: printableLine(oneLineMessage(error)),
      };
    }
  });
}

type Answer = { kind: "answered"; stdout: string } | Extract<HostStatus, { kind: "unreachable" }>;

async function askHost(
  runner: Runner,
  q: HostQuery,
  plan: StatusPlan,
  pinned: Map<string, { key: string }>,
): Promise<Answer> {
  const outcome = await runSsh(runner, q.argv, plan.timeoutMs);
  if (outcome.ok) return { kind: "answered", stdout: outcome.stdout };
  if ("failure" in outcome) {
    let detail = outcome.failure.detail;
    if (outcome.failure.kind === "host-key-mismatch") {
      detail = hostKeyMismatch(
        // The scan is only for the message: at most 5 s, and never past the host's bound.
        await diagnoseMismatch(
          runner,
          q.target,
          pinned.get(q.host)?.key,
          Math.min(5, Math.ceil(plan.timeoutMs / 1000)),
        ),
      );
    }
    return { kind: "unreachable", host: q.host, reason: outcome.failure.kind, detail };
  }
  const cause = outcome.stderr.trim().split("\n").at(-1) ?? "";
  return {
    kind: "unreachable",
    host: q.host,
    reason: "status-failed",
    detail: `the status script exited ${outcome.code}${cause ? `: ${cause}` : ""}`,
  };
}

async function evaluate(
  runner: Runner,
  argv: string[],
): Promise<{ ok: true; value: Record<string, string> } | { ok: false; why: string }> {
  try {
    const text = await runner.text({ argv, timeoutMs: EVAL_TIMEOUT_MS });
    return { ok: true, value: z.record(z.string(), z.string()).parse(JSON.parse(text)) };
  } catch (error) {
    return { ok: false, why: `nix eval failed: ${oneLineMessage(error)}` };
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
