import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import {
  BROKEN_HOST,
  checkRelease,
  checkTable,
  DEMO_HOST_NAMES,
  DEMO_RELEASES,
  deployArgs,
  type Observed,
  PLACEHOLDER_PATHS,
  planDemo,
  profileGeneration,
  systemVersion,
} from "./plan.ts";

const paths = { fleetDir: "/tmp/w/fleet", clientKey: "/tmp/h/client_ed25519" };

Deno.test("planDemo() starts hosts, writes, deploys and checks each release, then cleans up", () => {
  const steps = planDemo(paths, { json: false });
  assertEquals(steps.map((s) => s.kind), [
    "start-hosts",
    "write-fleet",
    "deploy",
    "check",
    "write-fleet",
    "deploy",
    "check",
    "clean-up",
  ]);
  assertEquals(steps[0], { kind: "start-hosts", hosts: DEMO_HOST_NAMES });
});

Deno.test("deployArgs() uses only deploy's documented flags and the harness' own key", () => {
  const args = deployArgs(paths, { json: true });
  const flags = args.filter((a) => a.startsWith("--"));
  const documented = [
    "--all",
    "--repo",
    "--parallel",
    "--confirm-timeout",
    "--connect-timeout",
    "--ssh-option",
    "--json",
  ];
  for (const flag of flags) assert(documented.includes(flag), `${flag} is not documented`);
  assertEquals(args.slice(0, 3), ["--all", "--repo", "/tmp/w/fleet"]);
  assert(args.includes("IdentityFile=/tmp/h/client_ed25519"));
  assert(args.includes("IdentitiesOnly=yes"), "no key from ~/.ssh or an agent is offered");
  assert(!deployArgs(paths, { json: false }).includes("--json"));
  assertEquals(deployArgs(PLACEHOLDER_PATHS, { json: false })[2], "<work>/fleet");
});

Deno.test("DEMO_RELEASES: release 2 breaks only db1, which keeps release 1", () => {
  assertEquals(DEMO_RELEASES.map((r) => r.release), [1, 2]);
  const [first, second] = DEMO_RELEASES;
  assert(Object.values(first!.systems).every((s) => s.healthy));
  assertEquals(
    Object.entries(second!.systems).filter(([, s]) => !s.healthy).map(([h]) => h),
    [BROKEN_HOST],
  );
  assertEquals(second!.expected, {
    web1: { kind: "confirmed", generation: 2, version: 2 },
    web2: { kind: "confirmed", generation: 2, version: 2 },
    db1: { kind: "rolled-back", generation: 1, version: 1 },
  });
  assertStringIncludes(second!.title, "db1's new system fails its health check");
});

function seen(
  generation?: number,
  version?: number,
  activeVersion = version,
  delivered = generation === undefined ? [] : [1, 2],
): Observed {
  return { generation, version, activeVersion, delivered };
}

Deno.test("checkRelease() wants generation, profile and active system as expected", () => {
  const release = DEMO_RELEASES[1]!;
  const good = { web1: seen(2, 2), web2: seen(2, 2), db1: seen(1, 1) };
  assert(checkRelease(release, good).every((c) => c.ok));
  const notRolledBack = checkRelease(release, { ...good, db1: seen(2, 2) });
  assertEquals(notRolledBack.map((c) => c.ok), [true, true, false]);
  const activeDiffers = checkRelease(release, { ...good, web1: seen(2, 2, 1) });
  assertEquals(activeDiffers.map((c) => c.ok), [false, true, true]);
  const missing = checkRelease(release, { web1: seen(2, 2), web2: seen(2, 2) });
  assertEquals(missing[2]!.observed, seen());
  assertEquals(missing[2]!.ok, false);
});

Deno.test("checkRelease(): a host the release never reached did not roll back", () => {
  // It runs what it ran before, as a rolled-back host does, but never got version 2.
  const release = DEMO_RELEASES[1]!;
  const checks = checkRelease(release, {
    web1: seen(2, 2),
    web2: seen(2, 2),
    db1: seen(1, 1, 1, [1]),
  });
  assertEquals(checks.map((c) => c.ok), [true, true, false]);
});

Deno.test("checkTable() shows what each host runs against what it should", () => {
  const table = checkTable(
    checkRelease(DEMO_RELEASES[1]!, { web1: seen(2, 2), web2: seen(), db1: seen(1, 1) }),
  );
  assertEquals(table.split("\n"), [
    "host  generation  version  active  expected                 check",
    "web1  2           2        2       confirmed (version 2)    ok",
    "web2  –           –        –       confirmed (version 2)    WRONG",
    "db1   1           1        1       rolled back (version 1)  ok",
  ]);
});

Deno.test("systemVersion() and profileGeneration() read store and link names", () => {
  assertEquals(systemVersion("/nix/store/abc-nixos-system-web1-12"), 12);
  assertEquals(systemVersion("/nix/store/abc-nixos-system-my-host-3"), 3);
  assertEquals(systemVersion("/nix/store/abc-demo-app-1.0"), undefined);
  assertEquals(systemVersion(undefined), undefined);
  assertEquals(profileGeneration("system-7-link"), 7);
  assertEquals(profileGeneration("system-x-link"), undefined);
  assertEquals(profileGeneration(undefined), undefined);
});
