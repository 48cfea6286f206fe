// Kill at any moment, for the user commands and host remove: killed at every point a kill can
// land, every file still decrypts for the admin, and `deno task rekey` (or --abort) leaves a
// tree whose readers are exactly what `.sops.yaml` says.
import { assert, assertEquals } from "../testing/assert.ts";
import { createFixture, type Fixture, makeAgeKey, run } from "./_test_support.ts";
import { acquireLock } from "../lib/sops/lock.ts";

async function listSecrets(f: Fixture): Promise<string[]> {
  const r = await run(["find", "secrets", "-type", "f"], { cwd: f.repo.dir });
  return r.stdout.trim().split("\n").filter(Boolean).sort();
}

async function assertAdminReadsAll(f: Fixture, when: string) {
  for (const path of await listSecrets(f)) {
    const r = await f.decryptAs(path, f.admin.file);
    assertEquals(r.code, 0, `${when}: ${path} decrypts: ${r.stderr}`);
  }
}

/** A fixture with web1 and db1 and user sam (age key), granted on web1. */
async function withSam(f: Fixture) {
  const sam = await makeAgeKey(f.keysDir, "sam");
  for (const args of [["user", "add", "sam", sam.recipient], ["user", "grant", "sam", "web1"]]) {
    const r = await f.task("secrets", args);
    assertEquals(r.code, 0, r.stderr);
  }
  return sam;
}

async function killEverywhere(
  args: string[],
  verify: (f: Fixture, sam: { file: string }) => Promise<void>,
  setup: (f: Fixture) => Promise<unknown> = async () => {},
) {
  for (let at = 1; at < 100; at++) {
    await using f = await createFixture(["web1", "db1"]);
    const sam = await withSam(f);
    await setup(f);
    const killed = await f.killAt(at, [...args, "--parallel", "1"]);
    if (killed.code !== 137) {
      assertEquals(killed.code, 0, `not killed at ${at}: ${killed.stderr}`);
      assert(at > 2, "the run had kill points");
      return;
    }
    await assertAdminReadsAll(f, `killed at ${at}`);
    const mode = at % 2 === 0 ? ["--abort"] : [];
    const finished = await f.task("rekey", mode);
    assertEquals(finished.code, 0, `after a kill at ${at}, rekey ${mode}: ${finished.stderr}`);
    await assertAdminReadsAll(f, `finished after ${at}`);
    const check = await f.task("rekey", ["--check"]);
    assertEquals(check.code, 0, `after a kill at ${at}: ${check.stdout}`);
    await verify(f, sam);
  }
  throw new Error("the run was killed at 100 points: the hook never stopped");
}

/** Whether `identityFile` decrypts `path`. */
async function reads(f: Fixture, path: string, identityFile: string) {
  return (await f.decryptAs(path, identityFile)).code === 0;
}

Deno.test("secrets user revoke killed at any point: sam reads the file exactly while the rule names sam", async () => {
  const path = "secrets/users/sam/web1.yaml";
  await killEverywhere(["user", "revoke", "sam", "web1", "--yes"], async (f, sam) => {
    const granted = (await Deno.readTextFile(f.repo.path(".sops.yaml"))).includes(
      "*user_sam",
    );
    assertEquals(await reads(f, path, sam.file), granted);
  });
});

Deno.test("secrets host remove killed at any point: web1 reads a file exactly while its key is there", async () => {
  await killEverywhere(["host", "remove", "web1", "--yes"], async (f, sam) => {
    const present = await Deno.stat(f.repo.path("configurations/web1/ssh_host_ed25519_key.pub"))
      .then(() => true, () => false);
    const web1 = f.hosts.get("web1")!.identityFile;
    for (
      const path of ["secrets/web1.yaml", "secrets/shared.yaml", "secrets/users/sam/web1.yaml"]
    ) {
      assertEquals(await reads(f, path, web1), present, `${path}, key present: ${present}`);
    }
    assert(await reads(f, "secrets/users/sam/web1.yaml", sam.file), "sam keeps their file");
  });
});

Deno.test("secrets user grant refuses while another run holds the lock, changing nothing", async () => {
  await using f = await createFixture(["web1"]);
  await withSam(f);
  const before = await f.snapshot();
  {
    await using _lock = await acquireLock(f.repo.dir, "secrets user remove sam");
    const r = await f.task("secrets", ["user", "grant", "sam", "web1"]);
    assertEquals(r.code, 1);
    assert(r.stderr.includes("`secrets user remove sam`"), r.stderr);
  }
  assertEquals(await f.snapshot(), before);
});

Deno.test("secrets user grant killed at any point: the new file is there in full or not at all", async () => {
  let kim = { file: "", recipient: "" };
  const path = "secrets/users/kim/db1.yaml";
  await killEverywhere(
    ["user", "grant", "kim", "db1"],
    async (f) => {
      const config = await Deno.readTextFile(f.repo.path(".sops.yaml"));
      const created = await Deno.stat(f.repo.path(path)).then(() => true, () => false);
      assertEquals(config.includes("users/kim/db1"), created, "rule and file go together");
      if (created) assert(await reads(f, path, kim.file), "kim reads the new file");
      else {
        const folder = await Deno.stat(f.repo.path("secrets/users/kim")).then(
          () => true,
          () => false,
        );
        assert(!folder, "no empty folder left behind");
      }
    },
    async (f) => {
      kim = await makeAgeKey(f.keysDir, "kim");
      const r = await f.task("secrets", ["user", "add", "kim", kim.recipient]);
      assertEquals(r.code, 0, r.stderr);
    },
  );
});
