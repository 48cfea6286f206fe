// `deno task rekey` as users run it: a subprocess with deno.json's permissions, real sops and
// age on a PATH outside the repository.
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/assert.ts";
import { createFixture, type Fixture, makeAgeKey, run } from "./_test_support.ts";

/** Runs `deno task rekey …` as the fixture's operator. */
function rekeyMain(f: Fixture, args: string[], identityFile = f.admin.file) {
  return f.task("rekey", args, { identityFile });
}

function snapshot(f: Fixture): Promise<Record<string, string>> {
  return f.snapshot();
}

async function listSecrets(f: Fixture): Promise<string[]> {
  const r = await run(["find", "secrets", "-type", "f"], { cwd: f.repo.dir });
  return r.stdout.trim().split("\n").filter(Boolean).sort();
}

Deno.test("rekey --check passes on a repository in step, with no keys", async () => {
  await using f = await createFixture(["web1", "db1"]);
  const r = await rekeyMain(f, ["--check"], "/nonexistent/keys.txt");
  assertEquals([r.code, r.stdout], [0, ""]);
});

Deno.test("rekey gives a new host its own file; secrets grant gives it the shared file", async () => {
  await using f = await createFixture(["web1"]);
  const app1 = await f.addHost("app1");
  await f.encrypt("secrets/app1.yaml", "token: app1-secret\n", [f.admin.recipient]); // admin-only until rekeyed
  assertEquals((await f.decryptAs("secrets/app1.yaml", app1.identityFile)).code !== 0, true);
  const r = await rekeyMain(f, ["--json"]);
  assertEquals(r.code, 0, r.stderr);
  const result = JSON.parse(r.stdout);
  assertEquals(result.files.map((x: { path: string }) => x.path), ["secrets/app1.yaml"]);
  assertStringIncludes(r.stderr, "+  - &host_app1 ");
  assert((await f.decryptAs("secrets/shared.yaml", app1.identityFile)).code !== 0, "not granted");
  const granted = await f.task("secrets", ["grant", "secrets/shared.yaml", "app1"]);
  assertEquals(granted.code, 0, granted.stderr);
  assertStringIncludes(granted.stdout, "secrets/shared.yaml: updated +1");
  for (const path of ["secrets/app1.yaml", "secrets/shared.yaml"]) {
    const out = await f.decryptAs(path, app1.identityFile);
    assertEquals(out.code, 0, out.stderr);
  }
  assertStringIncludes(
    (await f.decryptAs("secrets/app1.yaml", app1.identityFile)).stdout,
    "app1-secret",
  );
  assertEquals((await f.decryptAs("secrets/web1.yaml", app1.identityFile)).code !== 0, true);
  assertEquals((await rekeyMain(f, ["--check"])).code, 0);
});

Deno.test("rekey removes a host and rotates: its old key no longer decrypts, new data key", async () => {
  await using f = await createFixture(["web1", "db1"]);
  const db1 = f.hosts.get("db1")!;
  const before = await f.dataKey("secrets/shared.yaml");
  assertEquals((await f.decryptAs("secrets/shared.yaml", db1.identityFile)).code, 0);
  await f.repo.write({ "configurations/db1/ssh_host_ed25519_key.pub": null });
  const r = await rekeyMain(f, []);
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stdout, "secrets/shared.yaml: updated");
  assertStringIncludes(r.stdout, "rotated");
  assert((await f.decryptAs("secrets/shared.yaml", db1.identityFile)).code !== 0);
  assert((await f.decryptAs("secrets/db1.yaml", db1.identityFile)).code !== 0);
  const after = await f.dataKey("secrets/shared.yaml");
  assert(before !== after, "the data key changed");
  assertStringIncludes((await f.decryptAs("secrets/shared.yaml", f.admin.file)).stdout, "hunter2");
  assertEquals(
    await f.recipients("secrets/shared.yaml"),
    [f.admin.recipient, f.hosts.get("web1")!.recipient].sort(),
  );
});

Deno.test("rekey --no-rotate keeps the data key after a removal", async () => {
  await using f = await createFixture(["web1", "db1"]);
  const before = await f.dataKey("secrets/shared.yaml");
  await f.repo.write({ "configurations/db1/ssh_host_ed25519_key.pub": null });
  const r = await rekeyMain(f, ["--no-rotate"]);
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stdout, "not rotated");
  assertEquals(await f.dataKey("secrets/shared.yaml"), before);
});

Deno.test("rekey keeps hand-written comments, anchors and rules byte-for-byte", async () => {
  await using f = await createFixture(["web1"]);
  const original = await Deno.readTextFile(f.repo.path(".sops.yaml"));
  await f.addHost("app1");
  assertEquals((await rekeyMain(f, [])).code, 0);
  const updated = await Deno.readTextFile(f.repo.path(".sops.yaml"));
  const handWritten = original.split("\n").filter((l) =>
    !l.includes("host_") && !l.includes("shared")
  );
  for (const line of handWritten) assert(updated.includes(`${line}\n`), `kept: ${line}`);
  const head = original.slice(0, original.indexOf("  - &host_web1"));
  assert(updated.startsWith(head), "everything before the host anchors is identical");
  const notesRule = original.slice(
    original.indexOf("  # Hand-written"),
    original.indexOf("  - path_regex: ^secrets/web1"),
  );
  assertStringIncludes(updated, notesRule);
});

Deno.test("rekey --dry-run shows the diff and changes nothing", async () => {
  await using f = await createFixture(["web1"]);
  await f.addHost("app1");
  await f.encrypt("secrets/app1.yaml", "a: 1\n", [f.admin.recipient]);
  const before = await snapshot(f);
  const r = await rekeyMain(f, ["--dry-run"]);
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stderr, "+  - &host_app1");
  assertStringIncludes(r.stderr, "would run: sops updatekeys -y secrets/app1.yaml");
  assertEquals(await snapshot(f), before);
});

Deno.test("an added admin can decrypt everything", async () => {
  await using f = await createFixture(["web1", "db1"]);
  const bob = await makeAgeKey(f.keysDir, "bob");
  const text = await Deno.readTextFile(f.repo.path(".sops.yaml"));
  await f.repo.write({
    ".sops.yaml": text.replace("  # Hosts:", `  - &admin_bob ${bob.recipient}\n  # Hosts:`),
  });
  const r = await rekeyMain(f, []);
  assertEquals(r.code, 0, r.stderr);
  for (const path of ["secrets/web1.yaml", "secrets/db1.yaml", "secrets/shared.yaml"]) {
    assertEquals((await f.decryptAs(path, bob.file)).code, 0, path);
  }
  // The hand-written notes rule names alice only and stays so; --check says bob cannot read it.
  assert((await f.decryptAs("secrets/notes/alice.yaml", bob.file)).code !== 0);
  const check = await rekeyMain(f, ["--check"]);
  assertEquals(check.code, 1);
  assertMatch(
    check.stdout,
    /secrets\/notes\/alice\.yaml: admin bob cannot read it: your rule 1 \(line \d+\) has no \*admin_bob/,
  );
});

Deno.test("rekey stops with nothing changed when the operator cannot decrypt a file", async () => {
  await using f = await createFixture(["web1"]);
  const stranger = await makeAgeKey(f.keysDir, "stranger");
  // A file encrypted only for the stranger.
  const out = await f.sops(
    [
      "encrypt",
      "--age",
      stranger.recipient,
      "--filename-override",
      "secrets/web1.yaml",
      "/dev/stdin",
    ],
    f.admin.file,
    "x: 1\n",
  );
  await f.repo.write({ "secrets/web1.yaml": out.stdout });
  await f.addHost("app1");
  const before = await snapshot(f);
  const r = await rekeyMain(f, []);
  assertEquals(r.code, 1);
  assertStringIncludes(r.stderr, "Cannot decrypt secrets/web1.yaml: your identity (");
  assertStringIncludes(r.stderr, "is not one of its recipients");
  assertStringIncludes(r.stderr, "nothing was changed");
  assertEquals(await snapshot(f), before);
});

Deno.test("a failure mid-run restores .sops.yaml and every file", async () => {
  await using f = await createFixture(["web1", "db1"]);
  await f.addHost("app1");
  await f.encrypt("secrets/app1.yaml", "a: 1\n", [f.admin.recipient]);
  const before = await snapshot(f);
  // Root ignores chmod; an immutable file cannot be replaced even by root.
  const chattr = await run(["chattr", "+i", f.repo.path("secrets/app1.yaml")]);
  assertEquals(chattr.code, 0, chattr.stderr);
  const r = await rekeyMain(f, ["--parallel", "1"]);
  await run(["chattr", "-i", f.repo.path("secrets/app1.yaml")]);
  assertEquals(r.code, 1);
  assertStringIncludes(r.stderr, "Cannot replace secrets/app1.yaml: ");
  assertStringIncludes(r.stderr, "restored ");
  assertEquals(await snapshot(f), before);
  assert(!(await Deno.stat(f.repo.path(".rekey-journal")).then(() => true, () => false)));
  assertEquals((await rekeyMain(f, [])).code, 0, "a second run completes");
  assertEquals((await rekeyMain(f, ["--check"])).code, 0);
});

Deno.test("rekey --check reports a plaintext file, a stale file, an orphan rule, a host with no file", async () => {
  await using f = await createFixture(["web1", "db1"]);
  await f.repo.write({
    "secrets/plain.yaml": "password: hunter2\n",
    "secrets/db1.yaml": null,
  });
  await f.addHost("app1");
  await f.repo.write({ "configurations/web1/ssh_host_ed25519_key.pub": null }); // web1 removed
  const before = await snapshot(f);
  const r = await rekeyMain(f, ["--check"], "/nonexistent");
  assertEquals(r.code, 1);
  assertStringIncludes(r.stdout, "secrets/plain.yaml: no sops metadata");
  assertStringIncludes(r.stdout, "secrets/shared.yaml: recipients differ");
  assertStringIncludes(r.stdout, "secrets/web1.yaml: recipients differ");
  assertStringIncludes(r.stdout, `host "app1" has no secrets/app1.yaml`);
  assertStringIncludes(r.stdout, ".sops.yaml: host anchors or generated rules are not in step");
  const json = JSON.parse((await rekeyMain(f, ["--check", "--json"])).stdout);
  assertEquals(json.ok, false);
  assertEquals(await snapshot(f), before);
});

Deno.test("rekey reports a malformed .sops.yaml with line and column", async () => {
  await using f = await createFixture(["web1"]);
  await f.repo.write({ ".sops.yaml": "keys:\n  - &admin_a age1x\n creation_rules: [\n" });
  const r = await rekeyMain(f, ["--check"]);
  assertEquals(r.code, 1);
  assert(/error: Cannot read \.sops\.yaml: line \d+, column \d+: /.test(r.stderr), r.stderr);
});

Deno.test("rekey names a host key file that is not ed25519", async () => {
  await using f = await createFixture(["web1"]);
  await f.repo.write({
    "configurations/web1/ssh_host_ed25519_key.pub": "ssh-rsa AAAAB3NzaC1yc2E= x\n",
  });
  const r = await rekeyMain(f, ["--check"]);
  assertEquals(r.code, 1);
  assertStringIncludes(
    r.stderr,
    `Cannot use host key configurations/web1/ssh_host_ed25519_key.pub: not an ed25519 key`,
  );
});

Deno.test("rekey adds a hand-edited admin to every file, with a relative SOPS_AGE_KEY_FILE", async () => {
  await using f = await createFixture(["web1"]);
  const bob = await makeAgeKey(f.keysDir, "bob");
  await Deno.copyFile(f.admin.file, f.repo.path("operator-key.txt"));
  const text = await Deno.readTextFile(f.repo.path(".sops.yaml"));
  await f.repo.write({
    ".sops.yaml": text
      .replace("  # Hosts:", `  - &admin_bob ${bob.recipient}\n  # Hosts:`)
      .replace("          - *admin_alice\n", "          - *admin_alice\n          - *admin_bob\n"),
  });
  const r = await f.task("rekey", [], { env: { SOPS_AGE_KEY_FILE: "operator-key.txt" } });
  assertEquals(r.code, 0, r.stderr);
  for (const path of await listSecrets(f)) {
    assertEquals((await f.decryptAs(path, bob.file)).code, 0, `${path} decrypts for bob`);
  }
  assertEquals((await rekeyMain(f, ["--check"])).code, 0);
});
