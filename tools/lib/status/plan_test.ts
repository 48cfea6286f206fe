import { assert, assertEquals, assertThrows } from "../../testing/assert.ts";
import { hasControl } from "../terminal.ts";
import { shellQuote } from "../quote.ts";
import { type FleetFacts, parseFleetFacts, STATUS_SCRIPT } from "../fleet/mod.ts";
import { evalArgv, planStatus, selectStatusHosts } from "./plan.ts";
import { recordLine, rowCells, statusTable, storeName } from "./table.ts";
import type { ReachableStatus } from "./verdict.ts";

const FACTS: FleetFacts = parseFleetFacts({
  web1: { deployable: true, address: "10.0.0.1", tags: ["web"], system: "x86_64-linux" },
  web2: { deployable: true, address: "10.0.0.2", port: 2222, system: "x86_64-linux" },
  lab: { deployable: false, address: "10.0.0.3", tags: ["web"], system: "x86_64-linux" },
});
const SSH = { knownHostsFile: "/tmp/k/known_hosts", extraOptions: [], connectTimeout: 5 };

Deno.test("selectStatusHosts() takes names, --all or tags; no selection is every deployable host", () => {
  const none = { names: [], all: false, tags: [] };
  assertEquals(selectStatusHosts(FACTS, none), ["web1", "web2"]);
  assertEquals(selectStatusHosts(FACTS, { ...none, all: true }), ["web1", "web2"]);
  assertEquals(selectStatusHosts(FACTS, { ...none, tags: ["web"] }), ["web1"]);
  // A named host is shown even when it is not deployable.
  assertEquals(selectStatusHosts(FACTS, { ...none, names: ["lab"] }), ["lab"]);
  assertThrows(
    () => selectStatusHosts(FACTS, { ...none, names: ["nope"] }),
    'Cannot show the status of "nope": no such host; known hosts: lab, web1, web2',
  );
  assertThrows(
    () => selectStatusHosts(FACTS, { ...none, tags: ["db"] }),
    'No host to show: no deployable host has tag "db"',
  );
});

Deno.test("planStatus() asks each host one ssh command on a connection of its own, bounded", () => {
  const plan = planStatus(FACTS, { names: ["web2"], all: false, tags: [] }, {
    ssh: SSH,
    timeoutSeconds: 7,
  });
  assertEquals(plan.timeoutMs, 7000);
  assertEquals(plan.evalArgv, undefined);
  const [q] = plan.hosts;
  assertEquals(q?.target, { host: "web2", address: "10.0.0.2", port: 2222, user: "root" });
  const argv = q!.argv;
  assertEquals(argv[0], "ssh");
  assert(argv.includes("ControlPath=none"), "no shared connection: one command, one connection");
  assert(argv.includes("StrictHostKeyChecking=yes"));
  assertEquals(argv.at(-2), "root@10.0.0.2");
  assert(argv.at(-1)!.startsWith("sh -c "), argv.at(-1));
  assertThrows(
    () => planStatus(FACTS, { names: [], all: true, tags: [] }, { ssh: SSH, timeoutSeconds: 0 }),
    'Invalid --timeout "0"',
  );
});

Deno.test("planStatus() with --eval evaluates every selected toplevel in one nix eval", () => {
  const plan = planStatus(FACTS, { names: [], all: true, tags: [] }, {
    ssh: SSH,
    timeoutSeconds: 5,
    eval: { flake: "/repo" },
  });
  assertEquals(plan.evalArgv, evalArgv("/repo", ["web1", "web2"]));
  assertEquals(plan.evalArgv?.slice(0, 4), ["nix", "eval", "--json", "/repo#nixosConfigurations"]);
  assert(plan.evalArgv![5]!.endsWith('[ "web1" "web2" ])'), plan.evalArgv![5]);
});

Deno.test("STATUS_SCRIPT runs monitoring/host-facts.sh as it is: one definition of the facts", async () => {
  const hostFacts = await Deno.readTextFile(
    new URL("../../../monitoring/host-facts.sh", import.meta.url),
  );
  assert(STATUS_SCRIPT.includes(`sh -c ${shellQuote(hostFacts)} host-facts --facts-only`));
});

const REACHABLE: ReachableStatus = {
  kind: "reachable",
  host: "web1",
  generation: 4,
  generationDate: "2026-12-06T10:11:12.000Z",
  system: "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-web1-4",
  reboot: { needed: true, parts: ["kernel"] },
  drift: { kind: "in-step" },
  failedUnits: { kind: "listed", units: ["bad\x1b[31m.service"] },
  uptimeSeconds: 90000,
  load: [0.5, 0.25, 0],
  free: { root: 2 * 1024 ** 3, nix: 3 * 1024 ** 3 },
  backup: { kind: "age", seconds: 7200 },
  problems: ["reboot needed (kernel)", "1 failed unit: bad\x1b[31m.service"],
  record: {
    status: "confirmed",
    outcome: { kind: "confirmed" },
    run: "r1",
    by: "eve\x07",
    time: "2026-12-06T10:11:12Z",
    mode: "switch",
    previous: "/nix/store/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb-nixos-system-web1-3",
    next: "/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-nixos-system-web1-4",
    prevGen: 3,
    newGen: 4,
  },
};

Deno.test("rowCells() shows a host on one printable line each cell", () => {
  assertEquals(rowCells(REACHABLE), [
    "web1",
    "4",
    "2026-12-06 10:11",
    "nixos-system-web1-4",
    "in-step",
    "yes (kernel)",
    "1d 1h",
    "0.50 0.25 0.00",
    "2.0 GiB",
    "3.0 GiB",
    "2h 0m ago",
    "reboot needed (kernel); 1 failed unit: bad\\x1b[31m.service",
  ]);
  assertEquals(
    rowCells({ kind: "unreachable", host: "web2", reason: "refused", detail: "a\nb" }).at(-1),
    "unreachable (refused): a\\x0ab",
  );
});

Deno.test("recordLine() shows the last deploy, escaped", () => {
  assertEquals(
    recordLine(REACHABLE.record),
    "run r1 by eve\\x07 at 2026-12-06T10:11:12Z (switch): gen 3 → 4, " +
      "nixos-system-web1-3 → nixos-system-web1-4: confirmed",
  );
  assertEquals(recordLine(undefined), "no deploy record");
  assertEquals(storeName("/nix/store/short"), "short");
});

Deno.test("statusTable() colours only the verdict, and only when asked", () => {
  const plain = statusTable([REACHABLE], { colour: false });
  assert(!hasControl(plain), plain);
  assertEquals(plain.split("\n")[0]!.split(/\s{2,}/)[0], "HOST");
  const coloured = statusTable([REACHABLE], { colour: true });
  assertEquals(coloured.split("\x1b[").length - 1, 2);
  assert(coloured.includes("\x1b[31mreboot needed"), coloured);
});
