import { assert, assertEquals, assertThrows } from "../../testing/assert.ts";
import { planRekey, type SecretFile } from "./plan.ts";
import { parseSopsConfig } from "./sops_yaml.ts";
import { accessTable, formatAccess } from "./access.ts";
import type { RepoState } from "./repo_state.ts";
import { userFileOf, userFileReaders } from "./users.ts";
import { planHostRemove, planUserGrant, planUserRemove } from "./user_operations.ts";

const BASE = `keys:
  - &admin_alice age1alice
  - &host_web1 age1web1
  - &host_db1 age1db1
  - &user_sam age1sam
  - &user_mary-ann age1mary
creation_rules:
  - path_regex: ^secrets/web1\\.yaml$
    key_groups: [ { age: [ *admin_alice, *host_web1 ] } ]
  - path_regex: ^secrets/db1\\.yaml$
    key_groups: [ { age: [ *admin_alice, *host_db1 ] } ]
  - path_regex: ^secrets/users/sam/web1\\.yaml$
    key_groups: [ { age: [ *admin_alice, *user_sam, *host_web1 ] } ]
`;

function files(entries: Record<string, string[]>): SecretFile[] {
  return Object.entries(entries).map(([path, age]) => ({
    path,
    metadata: { age, pgp: [], other: [] },
  }));
}

function state(text = BASE, extra: Record<string, string[]> = {}): RepoState {
  return {
    config: parseSopsConfig(text),
    hostKeys: new Map([["web1", "age1web1"], ["db1", "age1db1"]]),
    files: files({
      "secrets/web1.yaml": ["age1alice", "age1web1"],
      "secrets/db1.yaml": ["age1alice", "age1db1"],
      "secrets/users/sam/web1.yaml": ["age1alice", "age1sam", "age1web1"],
      ...extra,
    }),
  };
}

const OPTIONS = { rotate: true };

Deno.test("userFileOf() reads user and host from the folder layout, by the host name rule", () => {
  assertEquals(userFileOf("secrets/users/mary-ann/web1.yaml"), { user: "mary-ann", host: "web1" });
  assertEquals(userFileOf("secrets/users/sam.yaml"), undefined);
  assertEquals(userFileOf("secrets/users/Sam/web1.yaml"), undefined);
  assertEquals(userFileOf("secrets/users/sam/x/web1.yaml"), undefined);
  assertEquals(userFileOf("secrets/mary-ann.yaml"), undefined, "a host's file is never a user's");
});

Deno.test("userFileReaders() names the user and host only while granted and present", () => {
  const file = { user: "sam", host: "web1" };
  const all = { userAnchors: ["user_sam"], hostAnchors: ["host_web1"] };
  assertEquals(userFileReaders(file, { ...all, ruleAliases: ["user_sam", "host_web1"] }), [
    "user_sam",
    "host_web1",
  ]);
  // A host the rule no longer names (removed, then its key back) gets it only from a grant.
  assertEquals(userFileReaders(file, { ...all, ruleAliases: ["user_sam"] }), ["user_sam"]);
  assertEquals(userFileReaders(file, { ...all, ruleAliases: [] }), []);
  assertEquals(userFileReaders(file, { ...all, ruleAliases: [], change: "grant" }), [
    "user_sam",
    "host_web1",
  ]);
  assertEquals(userFileReaders(file, { ...all, ruleAliases: ["user_sam"], change: "revoke" }), []);
  assertEquals(
    userFileReaders(file, { ...all, hostAnchors: [], ruleAliases: ["user_sam"] }),
    ["user_sam"],
    "a removed host",
  );
  assertEquals(
    userFileReaders(file, { ...all, userAnchors: [], ruleAliases: ["user_sam"] }),
    [],
    "a removed user",
  );
});

Deno.test("planRekey() keeps a user file's rule and drops any other reader a person added", () => {
  assertEquals(planRekey(state()).problems, []);
  const widened = BASE.replace("*user_sam, *host_web1 ]", "*user_sam, *host_web1, *host_db1 ]");
  const p = planRekey(state(widened));
  assertEquals(p.configText, BASE);
  const parsed = parseSopsConfig(widened);
  assertEquals(parsed.rules[2]!.ownedName, "users/sam/web1");
});

Deno.test("parseSopsConfig() owns a user alias only on a user's file", () => {
  const text = BASE.replace(
    "[ *admin_alice, *host_web1 ] } ]\n  - path_regex: ^secrets/db1",
    "[ *admin_alice, *host_web1, *user_sam ] } ]\n  - path_regex: ^secrets/db1",
  );
  const config = parseSopsConfig(text);
  assertEquals(config.rules[0]!.ownedName, undefined, "web1's rule with sam is hand-written");
});

Deno.test("planUserGrant() creates the file with admins, user and host; refuses what it cannot own", () => {
  const p = planUserGrant(state(), "mary-ann", "db1", { ...OPTIONS, revoke: false });
  assert(p.rekey.configText.includes(
    "  - path_regex: ^secrets/users/mary-ann/db1\\.yaml$\n    key_groups: [ { age: [ *admin_alice, *user_mary-ann, *host_db1 ] } ]\n",
  ));
  assertEquals(p.steps.steps.map((s) => `${s.kind} ${s.path}`), [
    "write .sops.yaml",
    "encrypt secrets/users/mary-ann/db1.yaml",
  ]);
  assertThrows(
    () => planUserGrant(state(), "kim", "db1", { ...OPTIONS, revoke: false }),
    `no user "kim" in .sops.yaml (users: sam, mary-ann)`,
  );
  assertThrows(
    () => planUserGrant(state(), "sam", "../db1", { ...OPTIONS, revoke: false }),
    `Invalid host name "../db1"`,
  );
  const handWritten = BASE.replace(
    "creation_rules:\n",
    "creation_rules:\n  - path_regex: ^secrets/users/.*\n    age: age1alice\n",
  );
  assertThrows(
    () => planUserGrant(state(handWritten), "sam", "db1", { ...OPTIONS, revoke: false }),
    "governed by your rule 1 (line 8)",
  );
});

Deno.test("planUserRemove() and planHostRemove() rotate every file the key could read", () => {
  const removed = planUserRemove(state(), "sam", OPTIONS);
  assert(!removed.rekey.configText.includes("user_sam"));
  assertEquals(
    removed.steps.steps.flatMap((s) => s.kind === "rekey" ? [`${s.path} ${s.rotate}`] : []),
    ["secrets/users/sam/web1.yaml true"],
  );
  const host = planHostRemove(state(), "web1", OPTIONS);
  const gone = state();
  gone.hostKeys.delete("web1");
  assertThrows(
    () => planHostRemove(gone, "web1", OPTIONS),
    "its key file is gone already; run deno task rekey",
  );
  assertEquals(host.steps.steps[0], {
    kind: "remove",
    path: "configurations/web1/ssh_host_ed25519_key.pub",
  });
  assertEquals(
    host.steps.steps.flatMap((s) => s.kind === "rekey" ? [`${s.path} ${s.removed}`] : []),
    ["secrets/users/sam/web1.yaml age1web1", "secrets/web1.yaml age1web1"],
  );
});

Deno.test("formatAccess() puts users in their own group after a bar", () => {
  const text = formatAccess(accessTable(state()));
  assertEquals(
    text.split("\n")[0]!.replace(/\s+/g, " "),
    "file admin_alice host_web1 host_db1 | user_sam user_mary-ann",
  );
});

Deno.test("planRekey() gives a user file it finds with no rule an admins-only rule until granted", () => {
  const p = planRekey(state(BASE, { "secrets/users/sam/db1.yaml": ["age1alice", "age1sam"] }));
  assert(p.configText.includes(
    "  - path_regex: ^secrets/users/sam/db1\\.yaml$\n    key_groups: [ { age: [ *admin_alice ] } ]\n",
  ));
  const file = p.files.find((f) => f.path === "secrets/users/sam/db1.yaml")!;
  assertEquals([file.removed, file.rotate], [["age1sam"], true]);
});
