// What `deno task demo` does, as data: the releases it deploys, the deploy command of each, and
// what every host must run afterwards. Pure; main.ts runs it, --dry-run prints it.
import { formatCommand } from "../lib/quote.ts";
import { DEMO_CONFIRM_TIMEOUT, type DemoSystem } from "./fleet.ts";

/** The demo's hosts: two that take every release, one whose second release is broken. */
export const DEMO_HOST_NAMES = ["web1", "web2", "db1"] as const;

/** The host whose release 2 fails its health check. */
export const BROKEN_HOST = "db1";

/** What a host must run after a release was deployed. */
export type Expectation =
  | { kind: "confirmed"; generation: number; version: number }
  | { kind: "rolled-back"; generation: number; version: number };

/** One deploy of the demo fleet. */
export interface DemoRelease {
  release: number;
  title: string;
  systems: Record<string, DemoSystem>;
  expected: Record<string, Expectation>;
}

function release(number: number, appVersion: string, broken: readonly string[]): DemoRelease {
  const systems: Record<string, DemoSystem> = {};
  const expected: Record<string, Expectation> = {};
  for (const host of DEMO_HOST_NAMES) {
    const healthy = !broken.includes(host);
    systems[host] = { version: number, appVersion, healthy };
    // A rolled-back host keeps the generation and version it had before this release.
    expected[host] = healthy
      ? { kind: "confirmed", generation: number, version: number }
      : { kind: "rolled-back", generation: number - 1, version: number - 1 };
  }
  const title = broken.length === 0
    ? `release ${number}: every host gets version ${number} (demo-app ${appVersion})`
    : `release ${number}: version ${number} (demo-app ${appVersion}) everywhere; ${
      broken.join(", ")
    }'s new system fails its health check`;
  return { release: number, title, systems, expected };
}

/** The releases the demo deploys, in order. */
export const DEMO_RELEASES: readonly DemoRelease[] = [
  release(1, "1.0", []),
  release(2, "1.1", [BROKEN_HOST]),
];

/** Where the demo's files are; placeholders in a dry run, where nothing is made. */
export interface DemoPaths {
  /** The demo fleet repository. */
  fleetDir: string;
  /** The client key the test hosts authorise. */
  clientKey: string;
}

/** Placeholder paths for --dry-run. */
export const PLACEHOLDER_PATHS: DemoPaths = {
  fleetDir: "<work>/fleet",
  clientKey: "<hosts>/client_ed25519",
};

/** One step of the demo. */
export type DemoStep =
  | { kind: "start-hosts"; hosts: readonly string[] }
  | { kind: "write-fleet"; release: DemoRelease; dir: string }
  | { kind: "deploy"; release: DemoRelease; args: string[] }
  | { kind: "check"; release: DemoRelease }
  | { kind: "clean-up" };

/** The arguments of `deno task deploy` for one release (only its documented flags). */
export function deployArgs(paths: DemoPaths, options: { json: boolean }): string[] {
  return [
    "--all",
    "--repo",
    paths.fleetDir,
    "--parallel",
    String(DEMO_HOST_NAMES.length),
    "--confirm-timeout",
    String(DEMO_CONFIRM_TIMEOUT),
    "--connect-timeout",
    "5",
    // The test hosts authorise the harness' own client key and nothing from ~/.ssh.
    "--ssh-option",
    `IdentityFile=${paths.clientKey}`,
    "--ssh-option",
    "IdentitiesOnly=yes",
    "--ssh-option",
    "IdentityAgent=none",
    ...(options.json ? ["--json"] : []),
  ];
}

/** The deploy command line as a person would type it. */
export function deployCommand(args: readonly string[]): string {
  return formatCommand(["deno", "task", "deploy", ...args]);
}

/** Every step of the demo, in order. */
export function planDemo(paths: DemoPaths, options: { json: boolean }): DemoStep[] {
  const steps: DemoStep[] = [{ kind: "start-hosts", hosts: DEMO_HOST_NAMES }];
  for (const release of DEMO_RELEASES) {
    steps.push(
      { kind: "write-fleet", release, dir: paths.fleetDir },
      { kind: "deploy", release, args: deployArgs(paths, options) },
      { kind: "check", release },
    );
  }
  steps.push({ kind: "clean-up" });
  return steps;
}

/** What a host runs, read from its system profile and /run/current-system. */
export interface Observed {
  /** The system profile's generation (`system-N-link`); undefined before the first deploy. */
  generation: number | undefined;
  /** The version of the system the profile points at (`nixos-system-web1-2` → 2). */
  version: number | undefined;
  /** The version of the active system, /run/current-system. */
  activeVersion: number | undefined;
  /**
   * Versions of the host's systems in its store: a host rolled back from a release got it, one
   * the deploy never reached (it could not connect) did not, yet runs the same as before.
   */
  delivered: number[];
}

/** One host's line of the demo's final table. */
export interface HostCheck {
  host: string;
  expected: Expectation;
  observed: Observed;
  ok: boolean;
}

/** Compares what each host runs with what `release` expects of it. */
export function checkRelease(
  release: DemoRelease,
  observed: Readonly<Record<string, Observed>>,
): HostCheck[] {
  return Object.entries(release.expected).map(([host, expected]) => {
    const seen = observed[host] ??
      { generation: undefined, version: undefined, activeVersion: undefined, delivered: [] };
    return {
      host,
      expected,
      observed: seen,
      ok: seen.generation === expected.generation && seen.version === expected.version &&
        seen.activeVersion === expected.version &&
        (expected.kind === "confirmed" || seen.delivered.includes(release.release)),
    };
  });
}

/** `2`, or `–` when there is none. */
function numberText(value: number | undefined): string {
  return value === undefined ? "–" : String(value);
}

/** The demo's final table: what each host runs, read from the host, against what it should. */
export function checkTable(checks: readonly HostCheck[]): string {
  const rows = [
    ["host", "generation", "version", "active", "expected", "check"],
    ...checks.map((c) => [
      c.host,
      numberText(c.observed.generation),
      numberText(c.observed.version),
      numberText(c.observed.activeVersion),
      c.expected.kind === "confirmed"
        ? `confirmed (version ${c.expected.version})`
        : `rolled back (version ${c.expected.version})`,
      c.ok ? "ok" : "WRONG",
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd())
    .join("\n");
}

/** The version in a system's store path name (`/nix/store/…-nixos-system-web1-2` → 2). */
export function systemVersion(storePath: string | undefined): number | undefined {
  const match = storePath === undefined ? null : /-nixos-system-[^/]+-(\d+)$/.exec(storePath);
  return match === null ? undefined : Number(match[1]);
}

/** The generation a profile link names (`system-3-link` → 3). */
export function profileGeneration(link: string | undefined): number | undefined {
  const match = link === undefined ? null : /^system-(\d+)-link$/.exec(link);
  return match === null ? undefined : Number(match[1]);
}
