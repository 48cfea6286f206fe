// The README's "Taking the repository over" on this repository's own secrets, as a new owner
// runs it: a new key, admin add with the example key (a relative SOPS_AGE_KEY_FILE), admin
// remove of the example admin.
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { CHECKOUT, createProgramsBin, installToolkit, runTask } from "../testing/task.ts";
import { createTempRepo } from "../testing/temp_repo.ts";
import { runProgram } from "../testing/run.ts";
import { SECRETS_PROGRAMS } from "./_test_support.ts";

const EXAMPLE_KEY = "configurations/dev-vm/EXAMPLE-admin-age-key.txt";

async function repositoryTree(): Promise<Record<string, string>> {
  const tree: Record<string, string> = { "flake.nix": "{ }\n" };
  const paths = [".sops.yaml", EXAMPLE_KEY];
  for (const dir of ["secrets", "configurations"]) {
    for await (const host of Deno.readDir(`${CHECKOUT}/${dir}`)) {
      paths.push(
        dir === "secrets"
          ? `secrets/${host.name}`
          : `configurations/${host.name}/ssh_host_ed25519_key.pub`,
      );
    }
  }
  for (const path of paths) {
    const text = await Deno.readTextFile(`${CHECKOUT}/${path}`).catch(() => undefined);
    if (text !== undefined) tree[path] = text;
  }
  return tree;
}

Deno.test("secrets: the README's takeover on this repository's secrets locks the example key out", async () => {
  await using repo = await createTempRepo(await repositoryTree(), { commit: false });
  await installToolkit(repo.dir);
  await using bin = await createProgramsBin(SECRETS_PROGRAMS);
  const files = [...Deno.readDirSync(repo.path("secrets"))].map((e) => `secrets/${e.name}`);
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
