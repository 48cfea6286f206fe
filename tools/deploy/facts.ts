// Deploy facts of every host (`hosts.<host>` in the flake): zod schema and one `nix eval` to read them.
import { z } from "zod";
import { hostNameProblem } from "../lib/host_name.ts";
import { nixEvalJson } from "../lib/nix.ts";
import type { Runner } from "../lib/runner.ts";

/** The health check a host gets when its facts name none: the system is not in a failed state. */
export const DEFAULT_HEALTH_CHECKS = ["systemctl is-system-running --wait"] as const;

/** One host's deploy facts, as declared in configurations/<host>/deploy.nix. */
export const hostFactsSchema = z.strictObject({
  deployable: z.boolean(),
  address: z.string().min(1).regex(/^[^\s@/]+$/, "an address has no spaces, @ or /"),
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().min(1).regex(/^[a-z_][a-z0-9_.-]*$/i, "not a user name").default("root"),
  tags: z.array(z.string().min(1)).default([]),
  buildOn: z.enum(["local", "remote"]).default("local"),
  confirmTimeout: z.number().int().min(1).default(30),
  healthChecks: z.array(z.string().min(1)).default([...DEFAULT_HEALTH_CHECKS]),
  system: z.string().min(1),
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

/** Reads every host's facts with one `nix eval --json <flake>#hosts`. */
export async function readFleetFacts(runner: Runner, flake: string): Promise<FleetFacts> {
  const raw = await nixEvalJson(runner, [`${flake}#hosts`], z.unknown(), { what: "host facts" });
  return parseFleetFacts(raw);
}
