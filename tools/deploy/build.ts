// Building: evaluate and build every selected host's toplevel, once for all hosts.
import { z } from "zod";
import { pathExists } from "../lib/fs.ts";
import type { Runner } from "../lib/runner.ts";
import { parseOrThrow } from "../lib/validate.ts";
import type { DeployPlan, HostPlan } from "./plan.ts";
import { buildDrvsStep, buildSteps, evalStep } from "./steps.ts";

const toplevelsSchema = z.record(
  z.string(),
  z.object({ drv: z.string(), out: z.string() }),
);
const buildSchema = z.array(
  z.object({ drvPath: z.string(), outputs: z.record(z.string(), z.string()) }),
);

/** Each host's toplevel derivation and output path. */
export type Toplevels = Record<string, { drv: string; out: string }>;

/** Options of {@linkcode buildToplevels}. */
export interface BuildDeps {
  runner: Runner;
  /** Called when a host's evaluation or build fails; the host is left out of the result. */
  fail: (host: HostPlan, step: "eval" | "build", error: unknown) => void;
  /** Called when a host's build starts. */
  building: (hosts: readonly HostPlan[]) => void;
  /** True once SIGINT/SIGTERM arrived: no evaluation or build is repeated per host. */
  interrupted?: () => boolean;
}

/**
 * Runs the plan's build steps ({@linkcode buildSteps}); a host whose evaluation or build fails is
 * reported through `deps.fail` and left out. A failed evaluation of all hosts at once is
 * repeated per host, to find which one.
 */
export async function buildToplevels(plan: DeployPlan, deps: BuildDeps): Promise<Toplevels> {
  const [first] = buildSteps(plan);
  if (first?.id === "build") {
    const only = plan.hosts[0]!;
    deps.building([only]);
    try {
      const [built] = parseOrThrow(
        buildSchema,
        JSON.parse(await deps.runner.text({ argv: first.argv })),
        "nix build output",
      );
      const path = built?.outputs.out;
      if (built === undefined || path === undefined) throw new Error("the build gave no output");
      return { [only.host]: { drv: built.drvPath, out: path } };
    } catch (error) {
      deps.fail(only, "build", error);
      return {};
    }
  }
  const toplevels = await evalToplevels(plan, deps.runner).catch(async (error) => {
    const found: Toplevels = {};
    if (deps.interrupted?.()) {
      plan.hosts.forEach((host) => deps.fail(host, "eval", error));
      return found;
    }
    for (const host of plan.hosts) {
      try {
        Object.assign(found, await evalToplevels({ ...plan, hosts: [host] }, deps.runner));
      } catch (error) {
        deps.fail(host, "eval", error);
      }
    }
    return found;
  });
  const local = plan.hosts.filter((h) => h.buildOn === "local" && toplevels[h.host]);
  if (local.length === 0) return toplevels;
  deps.building(local);
  const drvs = [...new Set(local.map((h) => toplevels[h.host]!.drv))];
  const build = buildDrvsStep(drvs, local.map((h) => h.host));
  const error = await buildDrvs(deps.runner, build.argv);
  const errors = new Map<HostPlan, unknown>();
  const unbuilt: HostPlan[] = [];
  for (const host of local) {
    if (!(await pathExists(toplevels[host.host]!.out))) unbuilt.push(host);
  }
  if (error !== undefined && unbuilt.length > 1 && !deps.interrupted?.()) {
    // Some errors (a system this machine cannot build) stop nix even with --keep-going, before
    // the other hosts are built: build each one left alone, so only the failing ones fail.
    for (const host of unbuilt) {
      if (deps.interrupted?.()) break;
      const alone = buildDrvsStep([toplevels[host.host]!.drv], [host.host]);
      errors.set(host, await buildDrvs(deps.runner, alone.argv));
    }
  }
  for (const host of unbuilt) {
    if (!(await pathExists(toplevels[host.host]!.out))) {
      deps.fail(host, "build", errors.get(host) ?? error ?? new Error("the build gave no output"));
      delete toplevels[host.host];
    }
  }
  return toplevels;
}

/** Runs a `nix build --json`; the error, if it failed. */
async function buildDrvs(runner: Runner, argv: readonly string[]): Promise<unknown> {
  try {
    parseOrThrow(buildSchema, JSON.parse(await runner.text({ argv })), "nix build output");
    return undefined;
  } catch (error) {
    return error;
  }
}

async function evalToplevels(plan: DeployPlan, runner: Runner): Promise<Toplevels> {
  const evaluate = evalStep(plan.flake, plan.hosts.map((h) => h.host));
  const out = await runner.text({ argv: evaluate.argv });
  return parseOrThrow(toplevelsSchema, JSON.parse(out), "toplevel paths");
}
