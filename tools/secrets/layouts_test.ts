// Issue 20, defects 1–5: the `.sops.yaml` layouts people really write, run through `deno task
// secrets|rekey` as users run them, with real sops, age and gpg.
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/assert.ts";
import { createFixture, type Fixture, makeAgeKey, makeHostKey, run } from "./_test_support.ts";
import { parseSopsConfig } from "../lib/sops/sops_yaml.ts";

/** `secrets host add <name> --key-file <pub> -y`, as a user types it. */
function hostAddArgs(name: string, publicKeyFile: string): string[] {
  return ["host", "add", name, "--key-file", publicKeyFile, "-y"];
}

async function config(f: Fixture): Promise<string> {
  return await Deno.readTextFile(f.repo.path(".sops.yaml"));
}

Deno.test("defect 1: a first anchor with a hyphen: host add, admin add and rekey keep .sops.yaml valid", async () => {
  await using f = await createFixture(["web1"]);
  // The admin anchor holds a hyphen, as `admin add jo-ann` then removing the first admin leaves.
  await f.repo.write({ ".sops.yaml": (await config(f)).replaceAll("admin_alice", "admin_al-ice") });
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
  const web2 = await makeHostKey(f.keysDir, "web2");
  const added = await f.task("secrets", hostAddArgs("web2", `${web2.privatePath}.pub`));
  assertEquals(added.code, 0, added.stderr);
  const jo = await makeAgeKey(f.keysDir, "jo");
  const admin = await f.task("secrets", ["admin", "add", "jo-ann", jo.recipient]);
  assertEquals(admin.code, 1, "the hand-written notes rule keeps jo-ann out: refused");
  assertStringIncludes(admin.stderr, "add *admin_jo-ann there");
  const text = await config(f);
  assertStringIncludes(text, `  - &admin_al-ice ${f.admin.recipient}`);
  assertStringIncludes(text, `  - &host_web2 ${web2.recipient}\n`);
  assertEquals(parseSopsConfig(text).keys.map((k) => k.anchor), [
    "admin_al-ice",
    "host_web1",
    "host_web2",
  ]);
  assertEquals((await f.decryptAs("secrets/web2.yaml", web2.identityFile)).code, 0);
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
});

Deno.test("defect 1: admin add jo-ann, admin remove the first admin, host add: every step valid", async () => {
  await using f = await createFixture(["web1"]);
  // Only generated rules, so admins can come and go.
  const text = await config(f);
  await f.repo.write({
    ".sops.yaml": text.replace(/ {2}# Hand-written: notes[^]*?- \*admin_alice\n/, "")
      .replace(/ {2}- path_regex: \^secrets\/shared[^]*$/, ""),
    "secrets/notes/alice.yaml": null,
    "secrets/shared.yaml": null,
  });
  assertEquals((await f.task("rekey", [])).code, 0);
  const jo = await makeAgeKey(f.keysDir, "jo");
  const add = await f.task("secrets", ["admin", "add", "jo-ann", jo.recipient]);
  assertEquals(add.code, 0, add.stderr);
  const remove = await f.task("secrets", ["admin", "remove", "alice"], { identityFile: jo.file });
  assertEquals(remove.code, 0, remove.stderr);
  const web2 = await makeHostKey(f.keysDir, "web2");
  const host = await f.task(
    "secrets",
    hostAddArgs("web2", `${web2.privatePath}.pub`),
    { identityFile: jo.file },
  );
  assertEquals(host.code, 0, host.stderr);
  const keys = parseSopsConfig(await config(f)).keys.map((k) => `${k.anchor} ${k.value}`);
  assertEquals(keys, [
    `admin_jo-ann ${jo.recipient}`,
    `host_web1 ${f.hosts.get("web1")!.recipient}`,
    `host_web2 ${web2.recipient}`,
  ]);
  assertEquals((await f.decryptAs("secrets/web2.yaml", jo.file)).code, 0);
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
});

Deno.test("defect 2: nested anchored key lists are read; host add writes into the hosts list", async () => {
  await using f = await createFixture(["web1"]);
  const web1 = f.hosts.get("web1")!;
  await f.repo.write({
    ".sops.yaml": `keys:
  - &admins:
    - &admin_alice ${f.admin.recipient}
  - &hosts
    - &host_web1 ${web1.recipient} # web1
creation_rules:
  - path_regex: ^secrets/web1\\.yaml$
    key_groups: [ { age: [ *admin_alice, *host_web1 ] } ]
  - path_regex: ^secrets/(shared|notes/.*)\\.yaml$
    key_groups:
      - merge:
          - age: *hosts
          - age: [ *admin_alice ]
`,
  });
  const access = await f.task("secrets", ["access"]);
  assertEquals(access.code, 0, access.stderr);
  assertMatch(access.stdout, /^file\s+admin_alice\s+host_web1$/m);
  const check = await f.task("rekey", ["--check"]);
  assertEquals(check.code, 1, check.stderr);
  assertStringIncludes(check.stdout, "secrets/notes/alice.yaml: recipients differ");
  assertEquals((await f.task("rekey", [])).code, 0);
  assertEquals((await f.decryptAs("secrets/shared.yaml", web1.identityFile)).code, 0);
  const web2 = await makeHostKey(f.keysDir, "web2");
  const added = await f.task("secrets", hostAddArgs("web2", `${web2.privatePath}.pub`));
  assertEquals(added.code, 0, added.stderr);
  const text = await config(f);
  assertStringIncludes(
    text,
    `    - &host_web1 ${web1.recipient} # web1\n    - &host_web2 ${web2.recipient}\ncreation_rules:`,
  );
  // In the &hosts list, so the rule that names the list now gives web2 shared.yaml too.
  assertEquals((await f.task("rekey", [])).code, 0);
  assertEquals((await f.decryptAs("secrets/shared.yaml", web2.identityFile)).code, 0);
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
});

Deno.test("defect 3: no keys: list (keys named in rules, age_keys:, folded strings): --check and access work", async () => {
  await using f = await createFixture(["web1"]);
  const web1 = f.hosts.get("web1")!;
  const layout = `# keys named in the rules themselves
age_keys:
  - &me ${f.admin.recipient}
creation_rules:
  - path_regex: ^secrets/web1\\.yaml$
    age: >-
      ${f.admin.recipient},
      ${web1.recipient}
  - path_regex: ^secrets/
    age: *me
`;
  await f.repo.write({ ".sops.yaml": layout });
  for (const path of ["secrets/shared.yaml", "secrets/notes/alice.yaml"]) {
    await f.encrypt(path, "a: b\n", [f.admin.recipient]);
  }
  // Read, not refused: the only finding is that rekey would add the host anchors.
  const check = await f.task("rekey", ["--check"]);
  assertEquals(check.code, 1, check.stderr);
  assertEquals(check.stderr, "");
  assertEquals(
    check.stdout.trim(),
    ".sops.yaml: host anchors or generated rules are not in step with the repository",
  );
  const access = await f.task("secrets", ["access"]);
  assertEquals(access.code, 0, access.stderr);
  assertMatch(access.stdout, /^file\s+me\s+host web1$/m);
  assertMatch(access.stdout, /^secrets\/web1\.yaml\s+yes\s+yes$/m);
  // A command that must write keys: creates the list above creation_rules, keeping every byte.
  const bob = await makeAgeKey(f.keysDir, "bob");
  const add = await f.task("secrets", ["admin", "add", "bob", bob.recipient]);
  assertEquals(add.code, 1, "your rules decide who reads: refused, naming the rule");
  assertEquals(add.stderr.trim().split("\n").length, 1, add.stderr);
  assertStringIncludes(add.stderr, "secrets/web1.yaml is governed by your rule 1 (line 5)");
  assertEquals(await config(f), layout, "nothing written");
  const web2 = await makeHostKey(f.keysDir, "web2");
  await f.repo.write({ "configurations/web2/ssh_host_ed25519_key.pub": web2.publicLine });
  const rekey = await f.task("rekey", []);
  assertEquals(rekey.code, 0, rekey.stderr);
  const text = await config(f);
  assertEquals(
    text,
    layout.replace(
      "creation_rules:\n",
      `keys:\n  - &host_web1 ${web1.recipient}\n  - &host_web2 ${web2.recipient}\ncreation_rules:\n`,
    ),
  );
});

Deno.test("defect 4: key groups with shamir_threshold 2: access shows shares, --check reports the lock-out", async () => {
  await using f = await createFixture(["web1"]);
  const web1 = f.hosts.get("web1")!;
  const text = await config(f);
  await f.repo.write({
    ".sops.yaml": text.replace(
      "creation_rules:\n",
      `creation_rules:
  - path_regex: ^secrets/vault\\.yaml$
    shamir_threshold: 2
    key_groups:
      - age: [ *admin_alice ]
      - age: [ *host_web1 ]
`,
    ),
  });
  const made = await f.sops(
    ["encrypt", "--filename-override", "secrets/vault.yaml", "/dev/stdin"],
    f.admin.file,
    "k: v\n",
  );
  assertEquals(made.code, 0, made.stderr);
  await f.repo.write({ "secrets/vault.yaml": made.stdout });
  // Ground truth from sops: neither decrypts alone.
  assertEquals((await f.decryptAs("secrets/vault.yaml", f.admin.file)).code === 0, false);
  assertEquals((await f.decryptAs("secrets/vault.yaml", web1.identityFile)).code === 0, false);
  const access = await f.task("secrets", ["access"]);
  assertEquals(access.code, 0, access.stderr);
  assertMatch(access.stdout, /^secrets\/vault\.yaml\s+share\s+share$/m);
  assertStringIncludes(
    access.stdout,
    "secrets/vault.yaml: key groups, 2 of 2 needed: group 1 (admin_alice), group 2 (host_web1); no one reads it alone",
  );
  const json = JSON.parse((await f.task("secrets", ["access", "--json"])).stdout);
  const row = json.rows.find((r: { path: string }) => r.path === "secrets/vault.yaml");
  assertEquals([row.threshold, row.groups], [2, [["admin_alice"], ["host_web1"]]]);
  assertEquals(row.access.admin_alice, false);
  const check = await f.task("rekey", ["--check"]);
  assertEquals(check.code, 1);
  assertStringIncludes(
    check.stdout,
    "secrets/vault.yaml: no admin can read it alone: its data key is split (2 of its 2 key groups are needed; your rule 1 (line 8))",
  );
  assertStringIncludes(
    check.stdout,
    "secrets/vault.yaml: host web1 can read it only with another party",
  );
});

Deno.test("defect 5: a pgp anchor is one column named by it; two-letter names keep every column aligned", async () => {
  await using f = await createFixture(["web1"]);
  const home = await Deno.makeTempDir({ prefix: "gnupg-" });
  try {
    const env = { GNUPGHOME: home };
    const gen = await run(
      ["gpg", "--batch", "--passphrase", "", "--quick-gen-key", "pg <pg@example.invalid>"],
      { env },
    );
    assertEquals(gen.code, 0, gen.stderr);
    const list = await run(["gpg", "--with-colons", "--list-keys"], { env });
    const fp = list.stdout.split("\n").find((l) => l.startsWith("fpr:"))!.split(":")[9]!;
    const spaced = fp.match(/.{4}/g)!.join(" ");
    await f.repo.write({
      ".sops.yaml": (await config(f)).replace("admin_alice", "ab").replaceAll("*admin_alice", "*ab")
        .replace("keys:\n", `keys:\n  - &pg ${spaced}\n`),
    });
    const made = await run(
      ["sops", "encrypt", "--pgp", fp, "--age", f.admin.recipient, "/dev/stdin"],
      { env: { ...env, SOPS_AGE_KEY_FILE: f.admin.file }, stdin: "k: v\n", cwd: f.keysDir },
    );
    assertEquals(made.code, 0, made.stderr);
    await f.repo.write({ "secrets/pgp.yaml": made.stdout });
    const access = await f.task("secrets", ["access"]);
    assertEquals(access.code, 0, access.stderr);
    const lines = access.stdout.trimEnd().split("\n");
    const header = lines[0]!;
    assertEquals(header.split(/\s+/), ["file", "pg", "ab", "host_web1"]);
    assertMatch(access.stdout, /^secrets\/pgp\.yaml\s+yes\s+yes\s+-$/m);
    assert(!access.stdout.includes("pgp:"), access.stdout);
    // Every cell starts where its column's name starts.
    const starts = [...header.matchAll(/\S+/g)].map((m) => m.index);
    for (const line of lines.slice(1)) {
      assertEquals([...line.matchAll(/\S+/g)].map((m) => m.index), starts, line);
    }
  } finally {
    await Deno.remove(home, { recursive: true });
  }
});
