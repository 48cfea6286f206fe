// Issue 32: `admin new-key`'s "Next:" names the SOPS_AGE_KEY_FILE that `admin add` needs (a key
// that decrypts every file already; the new key decrypts nothing yet), and that command works.
import { assertEquals, assertMatch } from "../testing/assert.ts";
import { createFixture } from "./_test_support.ts";

Deno.test("admin new-key: the Next: hint is a command that works as printed", async () => {
  await using f = await createFixture(["web1"]);
  // Without the fixture's hand-written notes rule, which names its admins one by one.
  const config = await Deno.readTextFile(f.repo.path(".sops.yaml"));
  await f.repo.write({
    ".sops.yaml": config.replace(/ {2}# Hand-written: notes[^]*?\*admin_alice\n/, ""),
    "secrets/notes/alice.yaml": null,
  });
  const out = `${f.keysDir}/mine.txt`;
  const r = await f.task("secrets", ["admin", "new-key", "--out", out]);
  assertEquals(r.code, 0, r.stderr);
  const hint = r.stderr.match(
    /Next, [^:]+: SOPS_AGE_KEY_FILE=<that key file> deno task secrets admin add <you> (age1\S+)/,
  );
  assertMatch(r.stderr, /SOPS_AGE_KEY_FILE=/);
  const recipient = hint![1]!;
  assertEquals(recipient, r.stdout.trim());
  // As printed, with the admin's key file for <that key file> and a name for <you>.
  const add = await f.task("secrets", ["admin", "add", "me", recipient], {
    env: { SOPS_AGE_KEY_FILE: f.admin.file },
  });
  assertEquals(add.code, 0, add.stderr);
  assertEquals((await f.decryptAs("secrets/shared.yaml", out)).code, 0);
});
