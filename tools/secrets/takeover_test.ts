// The README's "Taking the repository over" on this repository's example secrets, as a new owner
// runs it: a new key, admin add with the example key (a relative SOPS_AGE_KEY_FILE), admin
// remove of the example admin.
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { createProgramsBin, runTask } from "../testing/task.ts";
import { createExampleClone, EXAMPLE_ADMIN_KEY_FILE } from "../testing/example_clone.ts";
import { runProgram } from "../testing/run.ts";
import { SECRETS_PROGRAMS } from "./_test_support.ts";

const EXAMPLE_KEY = EXAMPLE_ADMIN_KEY_FILE;

Deno.test("secrets: the README's takeover on this repository's secrets locks the example key out", async () => {
  // The example state, from git: a repository whose owner ran init has no example key.
  await using repo = await createExampleClone();
  await using bin = await createProgramsBin(SECRETS_PROGRAMS);
  const files = [...Deno.readDirSync(repo.path("secrets"))].filter((e) => e.isFile)
    .map((e) => `secrets/${e.name}`);
  assert(files.length > 0, "the repository has secrets");
  const keyFile = repo.path("me/keys.txt");
  const made = await runTask(repo.dir, "secrets", ["admin", "new-key", "--out", "me/keys.txt"], {
    bin,
  });
  assertEquals(made.code, 0, made.stderr);
  const recipient = made.stdout.trim();
  assertMatch(recipient, /^age1[0-9a-z]+$/);
  const added = await runTask(repo.dir, "secrets", ["admin", "add", "me", recipient], {
    bin,
    env: { SOPS_AGE_KEY_FILE: EXAMPLE_KEY },
  });
  assertEquals(added.code, 0, added.stderr);
  const removed = await runTask(repo.dir, "secrets", ["admin", "remove", "example"], {
    bin,
    env: { SOPS_AGE_KEY_FILE: keyFile },
  });
  assertEquals(removed.code, 0, removed.stderr);
  const decrypt = (path: string, identity: string) =>
    runProgram(["sops", "decrypt", path], {
      cwd: repo.dir,
      env: { SOPS_AGE_KEY_FILE: identity },
    });
  for (const path of files) {
    assertEquals((await decrypt(path, keyFile)).code, 0, `${path}: the new admin reads it`);
    assert((await decrypt(path, repo.path(EXAMPLE_KEY))).code !== 0, `${path}: example key out`);
  }
  const check = await runTask(repo.dir, "rekey", ["--check"], { bin });
  assertEquals(check.code, 0, check.stdout + check.stderr);
});
