// Issue 20, defect 7: the removed-host lifecycle. `host remove` keeps the host's own file and
// its users' files for the admins (and the users); a key that comes back under the old name
// gets nothing by itself: `host add --restore` gives it its own kept file, and each other file
// only a new, explicit grant gives. Real sops, age and ssh-keygen, as users run them.
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { createFixture, type Fixture, makeAgeKey, makeHostKey } from "./_test_support.ts";

async function ok(f: Fixture, args: string[]) {
  const r = await f.task("secrets", args);
  assertEquals(r.code, 0, `secrets ${args.join(" ")}: ${r.stderr}`);
  return r;
}

async function reads(f: Fixture, path: string, identityFile: string): Promise<boolean> {
  return (await f.decryptAs(path, identityFile)).code === 0;
}

/** web1 and desk1; sam granted on desk1; desk1 granted shared.yaml; then desk1 removed. */
async function removedDesk1(f: Fixture) {
  const sam = await makeAgeKey(f.keysDir, "sam");
  await ok(f, ["user", "add", "sam", sam.recipient]);
  await ok(f, ["user", "grant", "sam", "desk1"]);
  const removed = await ok(f, ["host", "remove", "desk1", "--yes"]);
  assertStringIncludes(
    removed.stderr,
    "secrets/desk1.yaml is kept for the admins; `secrets host add desk1 --key-file <pub> --restore` gives a new key that file and nothing else",
  );
  const desk1 = await makeHostKey(f.keysDir, "desk1");
  return { sam, desk1 };
}

Deno.test("a removed host's key put back by hand and rekeyed gets nothing: not its file, not a user's file", async () => {
  await using f = await createFixture(["web1", "desk1"]);
  const { sam, desk1 } = await removedDesk1(f);
  await f.repo.write({ "configurations/desk1/ssh_host_ed25519_key.pub": desk1.publicLine });
  const r = await f.task("rekey", []);
  assertEquals(r.code, 0, r.stderr);
  for (
    const path of ["secrets/desk1.yaml", "secrets/users/sam/desk1.yaml", "secrets/shared.yaml"]
  ) {
    assert(!await reads(f, path, desk1.identityFile), `${path}: not for the new desk1 key`);
  }
  assert(await reads(f, "secrets/users/sam/desk1.yaml", sam.file), "sam keeps their file");
  assert(await reads(f, "secrets/desk1.yaml", f.admin.file), "the admins keep desk1's file");
  const check = await f.task("rekey", ["--check"]);
  assertEquals(check.code, 1);
  assertStringIncludes(
    check.stdout,
    "secrets/desk1.yaml: host desk1 cannot read its own file: the generated rule 3 (line 17) has no *host_desk1 (a removed host's key is given nothing back by itself: `secrets grant secrets/desk1.yaml desk1` gives it)",
  );
  // Explicit grants give them back, one by one.
  await ok(f, ["grant", "secrets/desk1.yaml", "desk1"]);
  assert(await reads(f, "secrets/desk1.yaml", desk1.identityFile));
  assert(!await reads(f, "secrets/users/sam/desk1.yaml", desk1.identityFile));
  await ok(f, ["user", "grant", "sam", "desk1"]);
  assert(await reads(f, "secrets/users/sam/desk1.yaml", desk1.identityFile));
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
});

Deno.test("host add after host remove: refused naming --restore; --restore gives the kept file and nothing else", async () => {
  await using f = await createFixture(["web1", "desk1"]);
  const { desk1 } = await removedDesk1(f);
  const before = await f.snapshot();
  const pub = `${desk1.privatePath}.pub`;
  const refused = await f.task("secrets", ["host", "add", "desk1", "--key-file", pub, "-y"]);
  assertEquals(refused.code, 1);
  assertStringIncludes(
    refused.stderr,
    'error: Cannot add host "desk1": secrets/desk1.yaml exists (kept when a host "desk1" was removed, or another file of that name); pass --restore',
  );
  assertEquals(await f.snapshot(), before);
  const restored = await ok(f, ["host", "add", "desk1", "--key-file", pub, "-y", "--restore"]);
  assertStringIncludes(
    restored.stderr,
    "secrets/users/sam/desk1.yaml: not given to the new key; `secrets user grant sam desk1` gives it",
  );
  assert(await reads(f, "secrets/desk1.yaml", desk1.identityFile), "its own kept file");
  for (const path of ["secrets/users/sam/desk1.yaml", "secrets/shared.yaml"]) {
    assert(!await reads(f, path, desk1.identityFile), `${path}: only by a new grant`);
  }
  await ok(f, ["grant", "secrets/shared.yaml", "desk1"]);
  assert(await reads(f, "secrets/shared.yaml", desk1.identityFile));
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
});
