// Issue 32, "Adding a host fails at step 3": the key made where .gitignore covers it
// (configurations/<host>/) is added from there, and a host whose key is in place but has no
// secrets/<host>.yaml gets that file from `deno task rekey`, the way `rekey --check` reports it.
// Real sops, age and ssh-keygen, as users run `deno task secrets|rekey`.
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { createFixture, type Fixture } from "./_test_support.ts";

async function ok(f: Fixture, task: "rekey" | "secrets", args: string[]) {
  const r = await f.task(task, args);
  assertEquals(r.code, 0, `${task} ${args.join(" ")}: ${r.stderr}`);
  return r;
}

Deno.test("host add takes the host's own .pub in configurations/<host>/ (README step 3)", async () => {
  await using f = await createFixture(["web1"]);
  const web2 = await f.addHost("web2"); // the .pub in configurations/web2/, as README makes it
  const pub = "configurations/web2/ssh_host_ed25519_key.pub";
  const r = await ok(f, "secrets", ["host", "add", "web2", "--key-file", pub, "-y"]);
  assertStringIncludes(r.stdout, "secrets/web2.yaml: created");
  assertEquals(await Deno.readTextFile(f.repo.path(pub)), web2.publicLine, "the key is kept");
  assertEquals((await f.decryptAs("secrets/web2.yaml", web2.identityFile)).code, 0);
  assert((await f.decryptAs("secrets/shared.yaml", web2.identityFile)).code !== 0, "not granted");
  await ok(f, "secrets", ["grant", "secrets/shared.yaml", "web2"]);
  assertEquals((await f.decryptAs("secrets/shared.yaml", web2.identityFile)).code, 0);
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
  // Run twice: refused, naming what to do, and nothing changes.
  const before = await f.snapshot();
  const again = await f.task("secrets", ["host", "add", "web2", "--key-file", pub, "-y"]);
  assertEquals(again.code, 1);
  assertStringIncludes(again.stderr, 'Cannot add host "web2": it is added already, with this key');
  assertEquals(await f.snapshot(), before);
});

Deno.test("host add refuses a key file that differs from the host's .pub, changing nothing", async () => {
  await using f = await createFixture(["web1"]);
  await f.addHost("web2");
  const other = await f.addHost("web3"); // another key, given for web2
  const before = await f.snapshot();
  const r = await f.task("secrets", [
    "host",
    "add",
    "web2",
    "--key-file",
    `${other.privatePath}.pub`,
    "-y",
  ]);
  assertEquals(r.code, 1);
  assertStringIncludes(
    r.stderr,
    'error: Cannot add host "web2": configurations/web2/ssh_host_ed25519_key.pub holds another key; use host replace-key to replace it',
  );
  assertEquals(await f.snapshot(), before);
});

Deno.test("rekey creates the secrets/<host>.yaml that rekey --check reports missing", async () => {
  await using f = await createFixture(["web1"]);
  const web2 = await f.addHost("web2"); // its key in place, by hand: no anchor, rule or file
  const check = await f.task("rekey", ["--check"]);
  assertEquals(check.code, 1);
  assertStringIncludes(check.stdout, 'host "web2" has no secrets/web2.yaml');
  // --dry-run says so and writes nothing.
  const before = await f.snapshot();
  const dry = await ok(f, "rekey", ["--dry-run"]);
  assertStringIncludes(dry.stdout, "secrets/web2.yaml: would-update");
  assertEquals(await f.snapshot(), before);
  const r = await ok(f, "rekey", []);
  assertStringIncludes(r.stdout, "secrets/web2.yaml: created");
  assertEquals((await f.decryptAs("secrets/web2.yaml", web2.identityFile)).code, 0);
  assertEquals((await f.decryptAs("secrets/web2.yaml", f.admin.file)).code, 0);
  assertEquals(
    (await f.recipients("secrets/web2.yaml")).sort(),
    [f.admin.recipient, web2.recipient].sort(),
    "the admins and the host, no other",
  );
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
  await ok(f, "secrets", ["grant", "secrets/shared.yaml", "web2"]);
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
  const again = await ok(f, "rekey", []);
  assertStringIncludes(again.stdout, "Everything is in step; nothing to do");
});
