// `deno task secrets user …` and `secrets host remove` as users run them, with real sops, age
// and ssh-keygen: who decrypts what after each command.
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { createFixture, type Fixture, makeAgeKey, makeHostKey, run } from "./_test_support.ts";

function secrets(f: Fixture, args: string[], identityFile = f.admin.file) {
  return f.task("secrets", args, { identityFile });
}

async function ok(f: Fixture, args: string[]) {
  const r = await secrets(f, args);
  assertEquals(r.code, 0, `secrets ${args.join(" ")}: ${r.stderr}`);
  return r;
}

async function reads(f: Fixture, path: string, identityFile: string): Promise<boolean> {
  return (await f.decryptAs(path, identityFile)).code === 0;
}

/** A fixture with web1 and db1, user sam (age key) granted on web1 with one secret in it. */
async function withSam(f: Fixture) {
  const sam = await makeAgeKey(f.keysDir, "sam");
  await ok(f, ["user", "add", "sam", sam.recipient]);
  await ok(f, ["user", "grant", "sam", "web1"]);
  const set = await f.sops(["set", "secrets/users/sam/web1.yaml", '["mail"]', '"sam-mail-pw"']);
  assertEquals(set.code, 0, set.stderr);
  return sam;
}

Deno.test("secrets user add, grant: the user and the host decrypt; another user and another host do not", async () => {
  await using f = await createFixture(["web1", "db1"]);
  const sam = await withSam(f);
  // kim's key is converted from an SSH ed25519 key, like a host's.
  const kim = await makeHostKey(f.keysDir, "kim");
  const added = await ok(f, ["user", "add", "kim", "--ssh-key-file", `${kim.privatePath}.pub`]);
  assertStringIncludes(added.stderr, "Next: deno task secrets user grant kim <host>");
  assertStringIncludes(added.stderr, "User key: 256 SHA256:");
  const path = "secrets/users/sam/web1.yaml";
  const config = await Deno.readTextFile(f.repo.path(".sops.yaml"));
  assertStringIncludes(config, `  - &user_sam ${sam.recipient}\n  - &user_kim ${kim.recipient}\n`);
  assertStringIncludes(config, "- path_regex: ^secrets/users/sam/web1\\.yaml$");
  assertStringIncludes(
    (await f.decryptAs(path, sam.file)).stdout,
    "sam-mail-pw",
    "sam reads their own file",
  );
  assert(await reads(f, path, f.hosts.get("web1")!.identityFile), "web1 reads it");
  assert(await reads(f, path, f.admin.file), "the admin reads it");
  assert(!await reads(f, path, kim.identityFile), "kim (another user) does not");
  assert(!await reads(f, path, f.hosts.get("db1")!.identityFile), "db1 (not granted) does not");
  assertEquals((await f.recipients(path)).length, 3);
  for (const other of ["secrets/web1.yaml", "secrets/shared.yaml", "secrets/db1.yaml"]) {
    assert(!await reads(f, other, sam.file), `sam does not read ${other}`);
  }
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
  // Granting again changes nothing.
  const before = await f.snapshot();
  const again = await ok(f, ["user", "grant", "sam", "web1"]);
  assertStringIncludes(again.stdout, "Everything is in step");
  assertEquals(await f.snapshot(), before);
});

Deno.test("secrets access shows users as their own group of columns", async () => {
  await using f = await createFixture(["web1"]);
  await withSam(f);
  const table = await ok(f, ["access"]);
  assertEquals(
    table.stdout.trimEnd().split("\n").map((l) => l.replace(/\s+/g, " ")),
    [
      "file admin_alice host_web1 | user_sam",
      "secrets/notes/alice.yaml yes - | -",
      "secrets/shared.yaml yes yes | -",
      "secrets/users/sam/web1.yaml yes yes | yes",
      "secrets/web1.yaml yes yes | -",
    ],
  );
  const json = JSON.parse((await ok(f, ["access", "--json"])).stdout);
  assertEquals(
    json.columns.map((c: { name: string; kind: string }) => `${c.name}:${c.kind}`),
    ["admin_alice:anchor", "host_web1:anchor", "user_sam:user"],
  );
});

Deno.test("secrets user revoke asks, rotates, and keeps the file for the admins", async () => {
  await using f = await createFixture(["web1"]);
  const sam = await withSam(f);
  const path = "secrets/users/sam/web1.yaml";
  const before = await f.snapshot();
  const unconfirmed = await secrets(f, ["user", "revoke", "sam", "web1"]);
  assertEquals(unconfirmed.code, 1);
  assertStringIncludes(unconfirmed.stderr, "not confirmed (pass --yes to confirm)");
  assertEquals(await f.snapshot(), before, "nothing changed without confirmation");
  const dry = await ok(f, ["user", "revoke", "sam", "web1", "--dry-run"]);
  assertStringIncludes(dry.stderr, `would run: sops rotate -i ${path} && sops updatekeys -y`);
  assertEquals(await f.snapshot(), before, "--dry-run changed nothing");
  const dataKey = await f.dataKey(path);
  const r = await ok(f, ["user", "revoke", "sam", "web1", "--yes"]);
  assertStringIncludes(r.stdout, `${path}: updated -2`);
  assertStringIncludes(r.stdout, "rotated");
  assert(dataKey !== await f.dataKey(path), "a new data key");
  assert(!await reads(f, path, sam.file), "sam no longer reads it");
  assert(!await reads(f, path, f.hosts.get("web1")!.identityFile), "nor does web1");
  assertStringIncludes((await f.decryptAs(path, f.admin.file)).stdout, "sam-mail-pw", "kept");
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
  const twice = await secrets(f, ["user", "revoke", "sam", "web1", "--yes"]);
  assertEquals(twice.code, 1);
  assertStringIncludes(twice.stderr, "sam is not granted secrets/users/sam/web1.yaml");
  // Granted again: the kept file is re-keyed, not replaced.
  await ok(f, ["user", "grant", "sam", "web1"]);
  assertStringIncludes((await f.decryptAs(path, sam.file)).stdout, "sam-mail-pw");
});

Deno.test("secrets user revoke --delete deletes the file and its rule only when asked by name, also for a removed user", async () => {
  await using f = await createFixture(["web1", "db1"]);
  await withSam(f);
  await ok(f, ["user", "grant", "sam", "db1"]);
  const path = "secrets/users/sam/web1.yaml";
  const before = await f.snapshot();
  const unconfirmed = await secrets(f, ["user", "revoke", "sam", "web1", "--delete"]);
  assertEquals(unconfirmed.code, 1);
  assertStringIncludes(unconfirmed.stderr, "not confirmed");
  const dry = await ok(f, ["user", "revoke", "sam", "web1", "--delete", "--dry-run"]);
  assertStringIncludes(dry.stderr, `would run: rm ${path}`);
  assertEquals(await f.snapshot(), before);
  await ok(f, ["user", "revoke", "sam", "web1", "--delete", "--yes"]);
  assert(!await Deno.stat(f.repo.path(path)).then(() => true, () => false), "deleted");
  assert(!(await Deno.readTextFile(f.repo.path(".sops.yaml"))).includes("users/sam/web1"));
  // After user remove, the files kept for the admins can still be deleted.
  await ok(f, ["user", "remove", "sam", "--yes"]);
  await ok(f, ["user", "revoke", "sam", "db1", "--delete", "--yes"]);
  assert(!await Deno.stat(f.repo.path("secrets/users/sam/db1.yaml")).then(() => true, () => false));
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
});

Deno.test("secrets user remove rotates every file the user could read", async () => {
  await using f = await createFixture(["web1", "db1"]);
  const sam = await withSam(f);
  await ok(f, ["user", "grant", "sam", "db1"]);
  const paths = ["secrets/users/sam/web1.yaml", "secrets/users/sam/db1.yaml"];
  const keys = await Promise.all(paths.map((p) => f.dataKey(p)));
  const untouched = await f.dataKey("secrets/web1.yaml");
  const r = await ok(f, ["user", "remove", "sam", "--yes"]);
  for (const [i, path] of paths.entries()) {
    assertStringIncludes(r.stdout, `${path}: updated`);
    assert(keys[i] !== await f.dataKey(path), `${path}: rotated`);
    assert(!await reads(f, path, sam.file), `${path}: sam is out`);
    assert(await reads(f, path, f.admin.file), `${path}: kept for the admins`);
  }
  assertEquals(untouched, await f.dataKey("secrets/web1.yaml"), "other files untouched");
  const config = await Deno.readTextFile(f.repo.path(".sops.yaml"));
  assert(!config.includes("user_sam"), config);
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
  const unknown = await secrets(f, ["user", "remove", "sam", "--yes"]);
  assertEquals(unknown.code, 1);
  assertStringIncludes(unknown.stderr, 'no user "sam" in .sops.yaml');
});

Deno.test("secrets host remove takes the host out everywhere, rotated, and keeps its user files for their user", async () => {
  await using f = await createFixture(["web1", "db1"]);
  const sam = await withSam(f);
  const web1 = f.hosts.get("web1")!;
  const files = ["secrets/web1.yaml", "secrets/shared.yaml", "secrets/users/sam/web1.yaml"];
  const keys = await Promise.all(files.map((p) => f.dataKey(p)));
  // kim's file on web1 was revoked already: only sam's is named as staying with its user.
  const kim = await makeAgeKey(f.keysDir, "kim");
  await ok(f, ["user", "add", "kim", kim.recipient]);
  await ok(f, ["user", "grant", "kim", "web1"]);
  await ok(f, ["user", "revoke", "kim", "web1", "--yes"]);
  const before = await f.snapshot();
  const dry = await ok(f, ["host", "remove", "web1", "--dry-run"]);
  assertStringIncludes(dry.stderr, "would run: rm configurations/web1/ssh_host_ed25519_key.pub");
  assertEquals(await f.snapshot(), before);
  const r = await ok(f, ["host", "remove", "web1", "--yes"]);
  assertStringIncludes(r.stderr, "secrets/users/sam/web1.yaml: stays readable by sam");
  assert(!r.stderr.includes("kim/web1.yaml: stays"), r.stderr);
  assert(
    !await Deno.stat(f.repo.path("configurations/web1/ssh_host_ed25519_key.pub")).then(
      () => true,
      () => false,
    ),
  );
  for (const [i, path] of files.entries()) {
    assert(keys[i] !== await f.dataKey(path), `${path}: rotated`);
    assert(!await reads(f, path, web1.identityFile), `${path}: web1 is out`);
  }
  assert(await reads(f, "secrets/users/sam/web1.yaml", sam.file), "sam keeps their file");
  assert(await reads(f, "secrets/shared.yaml", f.hosts.get("db1")!.identityFile));
  assert(!(await Deno.readTextFile(f.repo.path(".sops.yaml"))).includes("host_web1"));
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
  // The user's file can still be revoked from them, with its host gone.
  await ok(f, ["user", "revoke", "sam", "web1", "--yes"]);
  assert(!await reads(f, "secrets/users/sam/web1.yaml", sam.file));
});

Deno.test("secrets user refusals: admin's key, bad names, general grant, hand-written rule", async () => {
  await using f = await createFixture(["web1"]);
  const before = await f.snapshot();
  // One key under two names stays refused: an admin needs no user entry.
  const twice = await secrets(f, ["user", "add", "alice", f.admin.recipient]);
  assertEquals(twice.code, 1);
  assertStringIncludes(twice.stderr, "that key is already &admin_alice");
  const badName = await secrets(f, ["user", "add", "Sam_1", f.admin.recipient]);
  assertEquals(badName.code, 2);
  assertStringIncludes(badName.stderr, 'Invalid user name "Sam_1"');
  const noKey = await secrets(f, ["user", "add", "sam"]);
  assertEquals(noKey.code, 2);
  const noUser = await secrets(f, ["user", "grant", "sam", "web1"]);
  assertEquals(noUser.code, 1);
  assertStringIncludes(noUser.stderr, 'no user "sam" in .sops.yaml');
  assertEquals(await f.snapshot(), before);
  const sam = await withSam(f);
  const noHost = await secrets(f, ["user", "grant", "sam", "nope"]);
  assertEquals(noHost.code, 1);
  assertStringIncludes(noHost.stderr, 'Cannot grant sam on "nope": no such host');
  const general = await secrets(f, ["grant", "secrets/users/sam/web1.yaml", "web1"]);
  assertEquals(general.code, 1);
  assertStringIncludes(general.stderr, "use `secrets user grant sam web1`");
  const sshKey = await secrets(f, ["user", "add", "kim", "--ssh-key-file", `${f.keysDir}/none`]);
  assertEquals(sshKey.code, 1);
  assertStringIncludes(sshKey.stderr, "Cannot read the SSH key");
  // A key held by a user cannot become an admin's either.
  const asAdmin = await secrets(f, ["admin", "add", "sam", sam.recipient]);
  assertEquals(asAdmin.code, 1);
  assertStringIncludes(asAdmin.stderr, "that key is already &user_sam");
});

Deno.test("rekey --check reports a user file whose recipients differ from its rule; rekey restores it", async () => {
  await using f = await createFixture(["web1", "db1"]);
  const sam = await withSam(f);
  const path = "secrets/users/sam/web1.yaml";
  // Someone adds db1 to sam's file by hand, with sops.
  const db1 = f.hosts.get("db1")!;
  const added = await f.sops(["updatekeys", "-y", path], f.admin.file);
  assertEquals(added.code, 0, added.stderr);
  const widened = await f.sops(["rotate", "-i", "--add-age", db1.recipient, path]);
  assertEquals(widened.code, 0, widened.stderr);
  assert(await reads(f, path, db1.identityFile));
  const check = await f.task("rekey", ["--check"]);
  assertEquals(check.code, 1);
  assertStringIncludes(
    check.stdout,
    `${path}: recipients differ from .sops.yaml (0 to add, 1 to remove)`,
  );
  // A hand edit of the generated rule is reported too, and undone by rekey.
  const text = await Deno.readTextFile(f.repo.path(".sops.yaml"));
  await f.repo.write({
    ".sops.yaml": text.replace(
      "*user_sam, *host_web1 ]",
      "*user_sam, *host_web1, *host_db1 ]",
    ),
  });
  const stale = await f.task("rekey", ["--check"]);
  assertStringIncludes(stale.stdout, ".sops.yaml: host anchors or generated rules are not in step");
  const fixed = await f.task("rekey", []);
  assertEquals(fixed.code, 0, fixed.stderr);
  assert(!await reads(f, path, db1.identityFile), "db1 is out again");
  assert(await reads(f, path, sam.file));
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
});

Deno.test("secrets user and host remove: hostile names, an RSA key, hand-written rules stop them, nothing changed", async () => {
  await using f = await createFixture(["web1", "db1"]);
  const sam = await withSam(f);
  const text = await Deno.readTextFile(f.repo.path(".sops.yaml"));
  // A person's own rule that names sam and web1.
  await f.repo.write({
    ".sops.yaml": text.replace(
      "creation_rules:\n",
      "creation_rules:\n  - path_regex: ^secrets/family\\.yaml$\n    key_groups: [ { age: [ *admin_alice, *user_sam, *host_web1 ] } ]\n",
    ),
  });
  const before = await f.snapshot();
  const traversal = await secrets(f, ["user", "add", "../etc", sam.recipient]);
  assertEquals(traversal.code, 2);
  assertStringIncludes(traversal.stderr, 'Invalid user name "../etc"');
  const grantTraversal = await secrets(f, ["user", "grant", "sam", "../../x"]);
  assertEquals(grantTraversal.code, 2);
  // Names are refused before the question shows them (it said "not confirmed" before).
  const revokeTraversal = await secrets(f, ["user", "revoke", "sam", "../x"]);
  assertEquals(revokeTraversal.code, 2, revokeTraversal.stderr);
  assertStringIncludes(revokeTraversal.stderr, 'Invalid host name "../x"');
  const rsa = `${f.keysDir}/rsa`;
  assertEquals(
    (await run(["ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", rsa])).code,
    0,
  );
  const rsaUser = await secrets(f, ["user", "add", "kim", "--ssh-key-file", `${rsa}.pub`]);
  assertEquals(rsaUser.code, 1);
  assertStringIncludes(rsaUser.stderr, `Cannot use the SSH key ${rsa}.pub:`);
  const removeUser = await secrets(f, ["user", "remove", "sam", "--yes"]);
  assertEquals(removeUser.code, 1);
  assertStringIncludes(removeUser.stderr, 'Cannot remove anchor "user_sam": hand-written creation');
  const removeHost = await secrets(f, ["host", "remove", "web1", "--yes"]);
  assertEquals(removeHost.code, 1);
  assertStringIncludes(
    removeHost.stderr,
    'Cannot remove anchor "host_web1": hand-written creation',
  );
  const unconfirmed = await secrets(f, ["host", "remove", "db1"]);
  assertEquals(unconfirmed.code, 1);
  assertStringIncludes(unconfirmed.stderr, "not confirmed (pass --yes to confirm)");
  for (const r of [traversal, rsaUser, removeUser, removeHost, unconfirmed]) {
    assertEquals(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
  assertEquals(await f.snapshot(), before, "nothing changed");
});

Deno.test("secrets host remove that fails part way puts the host's key file back", async () => {
  await using f = await createFixture(["web1", "db1"]);
  const pub = "configurations/web1/ssh_host_ed25519_key.pub";
  const before = await f.snapshot();
  // The shared file cannot be replaced: its re-key fails after the key file was removed.
  assertEquals((await run(["chattr", "+i", f.repo.path("secrets/shared.yaml")])).code, 0);
  const r = await secrets(f, ["host", "remove", "web1", "--yes", "--parallel", "1"]);
  await run(["chattr", "-i", f.repo.path("secrets/shared.yaml")]);
  assertEquals(r.code, 1, r.stderr);
  assertStringIncludes(r.stderr, "Cannot replace secrets/shared.yaml");
  assertStringIncludes(r.stderr, "restored");
  assertEquals(await f.snapshot(), before, `${pub} and every file as before`);
  assertEquals((await Deno.stat(f.repo.path(pub))).mode! & 0o777, 0o644);
});

Deno.test("secrets user add, grant and remove --dry-run print the executor's steps and change nothing", async () => {
  await using f = await createFixture(["web1", "db1"]);
  const sam = await withSam(f);
  const kim = await makeAgeKey(f.keysDir, "kim");
  const before = await f.snapshot();
  const add = await ok(f, ["user", "add", "kim", kim.recipient, "--dry-run"]);
  assertStringIncludes(add.stderr, `+  - &user_kim ${kim.recipient}`);
  assertStringIncludes(add.stderr, "would write .sops.yaml");
  const grant = await ok(f, ["--dry-run", "user", "grant", "sam", "db1"]);
  assertStringIncludes(
    grant.stderr,
    "would run: sops encrypt --filename-override secrets/users/sam/db1.yaml",
  );
  const remove = await ok(f, ["user", "remove", "sam", "--dry-run"]);
  assertStringIncludes(
    remove.stderr,
    "would run: sops rotate -i secrets/users/sam/web1.yaml && sops updatekeys -y",
  );
  assertEquals(await f.snapshot(), before);
  assert(await reads(f, "secrets/users/sam/web1.yaml", sam.file));
});
