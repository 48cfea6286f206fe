// `deno task secrets …` as users run it: a subprocess with deno.json's permissions.
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { createFixture, type Fixture, makeHostKey } from "./_test_support.ts";

function secrets(f: Fixture, args: string[], identityFile = f.admin.file) {
  return f.task("secrets", args, { identityFile });
}

Deno.test("secrets host add creates its key, rule and own file, and no other access", async () => {
  await using f = await createFixture(["web1"]);
  const app1 = await makeHostKey(f.keysDir, "app1");
  const r = await secrets(f, [
    "host",
    "add",
    "app1",
    "--key-file",
    `${app1.privatePath}.pub`,
    "--yes",
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stderr, "Host key: 256 SHA256:");
  assertStringIncludes(r.stdout, "secrets/app1.yaml: created");
  assertEquals((await f.decryptAs("secrets/app1.yaml", app1.identityFile)).code, 0);
  assert((await f.decryptAs("secrets/shared.yaml", app1.identityFile)).code !== 0, "not granted");
  const again = await secrets(f, [
    "host",
    "add",
    "app1",
    "--key-file",
    `${app1.privatePath}.pub`,
    "-y",
  ]);
  assertEquals(again.code, 1);
  assertStringIncludes(again.stderr, "use host replace-key");
});

Deno.test("secrets host replace-key rotates away the old key", async () => {
  await using f = await createFixture(["web1", "db1"]);
  const old = f.hosts.get("web1")!;
  const fresh = await makeHostKey(f.keysDir, "web1-new");
  const r = await secrets(f, [
    "host",
    "replace-key",
    "web1",
    "--key-file",
    `${fresh.privatePath}.pub`,
    "-y",
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stdout, "rotated");
  assertEquals((await f.decryptAs("secrets/web1.yaml", fresh.identityFile)).code, 0);
  assert((await f.decryptAs("secrets/web1.yaml", old.identityFile)).code !== 0);
  assert((await f.decryptAs("secrets/shared.yaml", old.identityFile)).code !== 0);
  // The same key again (an install run twice) changes nothing and succeeds.
  const before = await f.snapshot();
  const again = await secrets(f, [
    "host",
    "replace-key",
    "web1",
    "--key-file",
    `${fresh.privatePath}.pub`,
    "-y",
  ]);
  assertEquals(again.code, 0, again.stderr);
  assertStringIncludes(again.stdout, "Everything is in step");
  assertEquals(await f.snapshot(), before);
});

Deno.test("secrets takeover: new key, admin add, admin remove of the example key", async () => {
  await using f = await createFixture(["web1"]);
  const keyFile = `${f.keysDir}/me/keys.txt`;
  const made = await secrets(f, ["admin", "new-key", "--out", keyFile]);
  assertEquals(made.code, 0, made.stderr);
  const recipient = made.stdout.trim();
  assert(
    recipient.startsWith("age1") && !made.stdout.includes("AGE-SECRET-KEY"),
    "secret not printed",
  );
  assertEquals((await Deno.stat(keyFile)).mode! & 0o777, 0o600);
  const refused = await secrets(f, ["admin", "add", "me", recipient]);
  // The hand-written notes rule decides who reads the notes: the tool says so and changes nothing.
  assertEquals(refused.code, 1);
  assertStringIncludes(refused.stderr, "secrets/notes/alice.yaml is governed by your rule 1 (line");
  assertStringIncludes(refused.stderr, "admin me was not added — add *admin_me there");
  const text = await Deno.readTextFile(f.repo.path(".sops.yaml"));
  await f.repo.write({
    ".sops.yaml": text.replace("          - *admin_alice\n", "          - *admin_me\n")
      .replace("  # Hosts:", `  - &admin_me ${recipient}\n  # Hosts:`),
  });
  const rekeyed = await f.task("rekey", []); // alice still reads the notes file
  assertEquals(rekeyed.code, 0, rekeyed.stderr);
  const removed2 = await secrets(f, ["admin", "remove", "alice"], keyFile);
  assertEquals(removed2.code, 0, removed2.stderr);
  for (const path of ["secrets/web1.yaml", "secrets/shared.yaml"]) {
    assertEquals((await f.decryptAs(path, keyFile)).code, 0, path);
    assert((await f.decryptAs(path, f.admin.file)).code !== 0, `${path}: example key locked out`);
  }
});

Deno.test("secrets admin add rejects a bad key; access prints the table", async () => {
  await using f = await createFixture(["web1"]);
  const bad = await secrets(f, ["admin", "add", "bob", "age1nope"]);
  assertEquals(bad.code, 2);
  const table = await secrets(f, ["access"]);
  assertEquals(table.code, 0, table.stderr);
  assertEquals(
    table.stdout.trimEnd().split("\n").map((l) => l.replace(/\s+/g, " ")),
    [
      "file admin_alice host_web1",
      "secrets/notes/alice.yaml yes -",
      "secrets/shared.yaml yes yes",
      "secrets/web1.yaml yes yes",
    ],
  );
  const help = await secrets(f, ["host", "add", "--help"]);
  assertEquals(help.code, 0);
});
