// The facts of every host (address, port, user, tags, deploy bounds): a strict zod schema, read
// from lib/hosts.nix (offline, no flake inputs) or from `<flake>#hosts` (a remote flake).
import { z } from "zod";
import { pathExists } from "../fs.ts";
import { hostNameProblem } from "../host_name.ts";
import { nixEvalJson } from "../nix.ts";
import type { Runner } from "../runner.ts";
import { addressProblem, normalizeAddress } from "./inventory.ts";

/**
 * Health checks a host gets when its facts name none: none of its own. Every activated host
 * also gets the built-in check that no systemd unit failed because of this deploy (see
 * the deploy's units check), which judges the deploy, not the host's history.
 */
export const DEFAULT_HEALTH_CHECKS = [] as const;

/** Seconds a copy to a host may take unless its facts say otherwise: an hour. */
export const DEFAULT_COPY_TIMEOUT = 3600;

/** What an address may be, in words. */
export const ADDRESS_RULE =
  "expected a host name (letters, digits, '-', '.') or an IP address (IPv6 in brackets or bare)";

/**
 * The longest timeout (seconds) a host or flag may set: a day. Longer ones would overflow the
 * deployer's timers (setTimeout fires at once past 2^31 - 1 ms, about 24.8 days).
 */
export const MAX_TIMEOUT_SECONDS = 86_400;

/** What a login user may be: a POSIX user name (never starting with '-'). */
export const USER_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;

/** What a tag may be. */
export const TAG = /^[a-z0-9][a-z0-9_.-]{0,62}$/;

const healthCheck = z.string().min(1).refine((c) => !c.startsWith("-"), {
  message: "a health check is a command run on the target and must not start with '-'",
}).refine((c) => !/[\0\n\r]/.test(c), { message: "a health check is one line" });

/** One host's deploy facts, as declared in configurations/<host>/deploy.nix. */
export const hostFactsSchema = z.strictObject({
  deployable: z.boolean(),
  address: z.string().superRefine((a, ctx) => {
    const problem = addressProblem(a);
    if (problem !== undefined) {
      ctx.addIssue({ code: "custom", message: `${ADDRESS_RULE}: ${problem}` });
    }
  }).transform((a) => normalizeAddress(a)!),
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().regex(
    USER_NAME,
    "expected a user name (a-z, 0-9, '_', '-'; not starting with '-')",
  )
    .default("root"),
  tags: z.array(z.string().regex(TAG, "expected a tag (a-z, 0-9, '_', '.', '-')")).default([]),
  buildOn: z.enum(["local", "remote"]).default("local"),
  confirmTimeout: z.number().int().min(1).max(MAX_TIMEOUT_SECONDS).default(30),
  /** Seconds switch-to-configuration may run before the target kills it and rolls back. */
  activationTimeout: z.number().int().min(1).max(MAX_TIMEOUT_SECONDS).default(300),
  /** Seconds each health check may run. */
  healthCheckTimeout: z.number().int().min(1).max(MAX_TIMEOUT_SECONDS).default(60),
  /**
   * Seconds `nix copy` to the host may run (the closure, or the derivation when building on
   * the target): a target whose store waits on a lock would otherwise hold the deploy for good.
   */
  copyTimeout: z.number().int().min(1).max(MAX_TIMEOUT_SECONDS).default(DEFAULT_COPY_TIMEOUT),
  healthChecks: z.array(healthCheck).default([...DEFAULT_HEALTH_CHECKS]),
  system: z.string().regex(/^[a-z0-9_]+-[a-z0-9_]+$/, "expected a system like x86_64-linux"),
});

/** One host's deploy facts, defaults filled in. */
export type HostFacts = z.infer<typeof hostFactsSchema>;

/** All hosts' facts by host name. */
export type FleetFacts = Record<string, HostFacts>;

/**
 * Validates the JSON of `hosts`; the error names the host and the field:
 * `Invalid deploy facts of host "web1": port: expected number, received string`.
 */
export function parseFleetFacts(value: unknown): FleetFacts {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new Error("Invalid deploy facts: hosts is not an attribute set");
  }
  const facts: FleetFacts = {};
  for (const [name, raw] of Object.entries(value)) {
    const problem = hostNameProblem(name);
    if (problem !== undefined) {
      throw new Error(`Invalid deploy facts: ${problem}`);
    }
    const parsed = hostFactsSchema.safeParse(raw);
    if (!parsed.success) {
      const [issue] = parsed.error.issues;
      if (issue?.code === "unrecognized_keys") {
        throw new Error(
          `Invalid deploy facts of host "${name}": unknown field "${issue.keys.join('", "')}"`,
        );
      }
      const field = issue && issue.path.length > 0 ? issue.path.map(String).join(".") : "value";
      const message = (issue?.message ?? "invalid value").replace(/^Invalid input: /, "");
      throw new Error(`Invalid deploy facts of host "${name}": ${field}: ${message}`);
    }
    facts[name] = parsed.data;
  }
  return facts;
}

/** Where the facts come from: the repository's lib/hosts.nix, or a flake's `hosts` output. */
export type FactsSource = { kind: "file"; path: string } | { kind: "flake"; flake: string };

/**
 * Where the host facts come from: `--flake <ref>` reads `<ref>#hosts`; the repository itself is
 * read from lib/hosts.nix with no flake inputs (offline, before anything is fetched).
 */
export async function factsSource(root: string, flake: string | undefined): Promise<FactsSource> {
  if (flake === undefined && await pathExists(`${root}/lib/hosts.nix`)) {
    return { kind: "file", path: `${root}/lib/hosts.nix` };
  }
  return { kind: "flake", flake: flake ?? root };
}

/** The `nix eval` argv that reads the facts from `source`. */
export function factsArgs(source: FactsSource): string[] {
  return source.kind === "file" ? ["--file", source.path] : [`${source.flake}#hosts`];
}

/**
 * Reads every host's facts with one `nix eval --json`: `--file lib/hosts.nix` needs no flake
 * input (works offline, before anything is fetched); `<flake>#hosts` for other flakes.
 */
export async function readFleetFacts(runner: Runner, source: FactsSource): Promise<FleetFacts> {
  const raw = await nixEvalJson(runner, factsArgs(source), z.unknown(), { what: "host facts" });
  return parseFleetFacts(raw);
}
