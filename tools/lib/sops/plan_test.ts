import { assert, assertEquals, assertThrows } from "../../testing/assert.ts";
import { type PlanInput, planRekey, type SecretFile } from "./plan.ts";
import { parseSopsConfig } from "./sops_yaml.ts";

const BASE = `keys:
  - &admin_alice age1alice
  - &host_web1 age1web1
  - &host_db1 age1db1
creation_rules:
  - path_regex: ^secrets/web1\\.yaml$
    key_groups: [ { age: [ *admin_alice, *host_web1 ] } ]
  - path_regex: ^secrets/db1\\.yaml$
    key_groups: [ { age: [ *admin_alice, *host_db1 ] } ]
  - path_regex: ^secrets/shared\\.yaml$
    key_groups: [ { age: [ *admin_alice, *host_web1, *host_db1 ] } ]
`;

const HOSTS = new Map([["web1", "age1web1"], ["db1", "age1db1"]]);

function files(entries: Record<string, string[] | null>): SecretFile[] {
  return Object.entries(entries).map(([path, age]) => ({
    path,
    metadata: age === null ? null : { age, pgp: [], other: [] },
  }));
}

const IN_STEP = files({
  "secrets/web1.yaml": ["age1alice", "age1web1"],
  "secrets/db1.yaml": ["age1alice", "age1db1"],
  "secrets/shared.yaml": ["age1alice", "age1web1", "age1db1"],
});

function plan(input: Partial<PlanInput> & { text?: string }) {
  return planRekey({
    config: parseSopsConfig(input.text ?? BASE),
    hostKeys: input.hostKeys ?? HOSTS,
    files: input.files ?? IN_STEP,
    ...(input.rotate === undefined ? {} : { rotate: input.rotate }),
  });
}

Deno.test("planRekey() finds nothing to do when everything is in step", () => {
  const p = plan({});
  assertEquals(p.configChanged, false);
  assertEquals(p.configText, BASE);
  assertEquals(p.files.filter((f) => f.update), []);
  assertEquals(p.problems, []);
});

Deno.test("planRekey() adds a new host: anchor, rule, its own file only", () => {
  const hostKeys = new Map([...HOSTS, ["app1", "age1app1"]]);
  const p = plan({
    hostKeys,
    files: [...IN_STEP, ...files({ "secrets/app1.yaml": ["age1alice"] })],
  });
  assert(p.configChanged);
  assert(p.configText.includes("  - &host_app1 age1app1\n"));
  assert(p.configText.includes("^secrets/app1\\.yaml$"));
  const byPath = Object.fromEntries(p.files.map((f) => [f.path, f]));
  assertEquals(
    byPath["secrets/shared.yaml"]!.update,
    false,
    "shared files are granted, not guessed",
  );
  assertEquals(byPath["secrets/app1.yaml"]!.added, ["age1app1"]);
  assertEquals(byPath["secrets/web1.yaml"]!.update, false);
});

Deno.test("planRekey() drops a removed host and rotates its files", () => {
  const p = plan({ hostKeys: new Map([["web1", "age1web1"]]) });
  assert(!p.configText.includes("host_db1"));
  const byPath = Object.fromEntries(p.files.map((f) => [f.path, f]));
  assertEquals(byPath["secrets/shared.yaml"]!.removed, ["age1db1"]);
  assertEquals(byPath["secrets/shared.yaml"]!.rotate, true);
  // db1's own file stays, readable by the admins only.
  assertEquals(byPath["secrets/db1.yaml"]!.wanted, ["age1alice"]);
  assertEquals(byPath["secrets/db1.yaml"]!.rotate, true);
});

Deno.test("planRekey() with rotate false never rotates", () => {
  const p = plan({ hostKeys: new Map([["web1", "age1web1"]]), rotate: false });
  assert(p.files.some((f) => f.removed.length > 0));
  assert(p.files.every((f) => !f.rotate));
});

Deno.test("planRekey() replaces a changed host key and rotates", () => {
  const p = plan({ hostKeys: new Map([["web1", "age1web1new"], ["db1", "age1db1"]]) });
  assert(p.configText.includes("&host_web1 age1web1new\n"));
  const web1 = p.files.find((f) => f.path === "secrets/web1.yaml")!;
  assertEquals([web1.added, web1.removed, web1.rotate], [["age1web1new"], ["age1web1"], true]);
});

Deno.test("planRekey() gives a new admin every owned rule", () => {
  const text = BASE.replace("keys:\n", "keys:\n  - &admin_bob age1bob\n");
  const p = plan({ text });
  assert(p.files.every((f) => f.added.includes("age1bob") && f.removed.length === 0));
  assertEquals(p.problems.filter((x) => x.kind === "stale-file").length, 3);
});

Deno.test("planRekey() keeps a shared rule's host subset", () => {
  const text = `${BASE}  - path_regex: ^secrets/dbonly\\.yaml$
    key_groups: [ { age: [ *admin_alice, *host_db1 ] } ]
`;
  const hostKeys = new Map([...HOSTS, ["app1", "age1app1"]]);
  const p = plan({
    text,
    hostKeys,
    files: [
      ...IN_STEP,
      ...files({ "secrets/dbonly.yaml": ["age1alice", "age1db1"] }),
      ...files({ "secrets/app1.yaml": ["age1alice", "age1app1"] }),
    ],
  });
  const byPath = Object.fromEntries(p.files.map((f) => [f.path, f]));
  assertEquals(byPath["secrets/dbonly.yaml"]!.update, false);
  assertEquals(byPath["secrets/shared.yaml"]!.update, false, "hosts are named, never guessed");
});

Deno.test("planRekey() generates an admin-only rule for a new file no rule covers", () => {
  const p = plan({
    files: [...IN_STEP, ...files({ "secrets/common.yaml": ["age1alice"] })],
  });
  const common = p.files.find((f) => f.path === "secrets/common.yaml")!;
  assertEquals(common.wanted, ["age1alice"]);
});

Deno.test("planRekey() honours a hand-written rule and leaves it alone", () => {
  const text = `${BASE}  - path_regex: ^secrets/team/.*$
    key_groups: [ { age: [ *admin_alice ] } ]
`;
  const p = plan({
    text,
    hostKeys: new Map([...HOSTS, ["app1", "age1app1"]]),
    files: [...IN_STEP, ...files({ "secrets/team/x.yaml": ["age1alice"] })],
  });
  assert(p.configText.endsWith(`  - path_regex: ^secrets/team/.*$
    key_groups: [ { age: [ *admin_alice ] } ]
`));
  assertEquals(p.files.find((f) => f.path === "secrets/team/x.yaml")!.update, false);
});

Deno.test("planRekey() refuses to remove a host a hand-written rule names", () => {
  const text = `${BASE}  - path_regex: ^secrets/x/.*$
    key_groups: [ { age: [ *admin_alice, *host_db1 ] } ]
`;
  assertThrows(
    () => plan({ text, hostKeys: new Map([["web1", "age1web1"]]) }),
    `Cannot remove anchor "host_db1": hand-written creation rule 4`,
  );
});

Deno.test("planRekey() reports plaintext files, files with no rule, hosts with no file; not rules for files elsewhere", () => {
  const text = `${BASE}  - path_regex: ^secrets/gone/.*$
    key_groups: [ { age: [ *admin_alice ] } ]
`;
  const p = plan({
    text,
    hostKeys: new Map([...HOSTS, ["app1", "age1app1"]]),
    files: [
      ...IN_STEP.filter((f) => f.path !== "secrets/db1.yaml"),
      ...files({ "secrets/plain.yaml": null }),
      ...files({ "secrets/notes/a.json": ["age1alice"] }),
    ],
  });
  const kinds = p.problems.map((x) => `${x.kind} ${x.subject}`).sort();
  assertEquals(kinds, [
    "host-without-file app1",
    "host-without-file db1",
    "no-rule secrets/notes/a.json",
    "plaintext secrets/plain.yaml",
    "stale-config .sops.yaml",
  ]);
  // The owned orphan rule goes; the hand-written one stays.
  assert(!p.configText.includes("secrets/db1"));
  assert(p.configText.includes("secrets/gone/"));
});

Deno.test("planRekey() ignores recipient order and duplicates", () => {
  const p = plan({
    files: files({
      "secrets/web1.yaml": ["age1web1", "age1alice", "age1web1"],
      "secrets/db1.yaml": ["age1db1", "age1alice"],
      "secrets/shared.yaml": ["age1db1", "age1web1", "age1alice"],
    }),
  });
  assertEquals(p.problems, []);
});
