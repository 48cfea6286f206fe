// Kill at any moment: every point where a changing command can be killed (journal written, an
// output recorded, a file renamed), for rekey, host add and admin remove. After each kill every
// file decrypts, and the plain task finishes the work (or --abort undoes it) cleanly.
import { assert, assertEquals } from "../testing/assert.ts";
import { createFixture, type Fixture, makeAgeKey, makeHostKey, run } from "./_test_support.ts";

async function listSecrets(f: Fixture): Promise<string[]> {
  const r = await run(["find", "secrets", "-type", "f"], { cwd: f.repo.dir });
  return r.stdout.trim().split("\n").filter(Boolean).sort();
}

async function assertAllDecrypt(f: Fixture, identityFile: string, when: string) {
  for (const path of await listSecrets(f)) {
    const r = await f.decryptAs(path, identityFile);
    assertEquals(r.code, 0, `${when}: ${path} decrypts: ${r.stderr}`);
  }
}

/**
 * Kills `args` at each point in turn (a fresh fixture each time, made by `setup`), then runs
 * `finish` (the plain task or --abort) and `verify`. Stops once a run is no longer killed.
 */
async function killEverywhere(
  hosts: string[],
  setup: (f: Fixture) => Promise<{ args: string[]; identityFile?: string }>,
  verify: (f: Fixture, finished: "rekey" | "abort") => Promise<void>,
) {
  for (let at = 1; at < 100; at++) {
    await using f = await createFixture(hosts);
    const { args, identityFile = f.admin.file } = await setup(f);
    const killed = await f.killAt(at, args);
    if (killed.code !== 137) {
      assertEquals(killed.code, 0, `not killed at ${at}: ${killed.stderr}`);
      assert(at > 3, "the run had kill points");
      return;
    }
    await assertAllDecrypt(f, identityFile, `killed at ${at}`);
    const mode = at % 2 === 0 ? "abort" : "rekey";
    const finished = await f.task("rekey", mode === "abort" ? ["--abort"] : [], { identityFile });
    assertEquals(finished.code, 0, `after a kill at ${at}, ${mode}: ${finished.stderr}`);
    await assertAllDecrypt(f, identityFile, `finished after ${at}`);
    assert(
      !await Deno.stat(f.repo.path(".rekey-journal")).then(() => true, () => false),
      "no journal left",
    );
    await verify(f, mode);
  }
  throw new Error("the run was killed at 100 points: the hook never stopped");
}

Deno.test("rekey killed at any point: every file decrypts; rekey finishes, --abort undoes", async () => {
  await killEverywhere(
    ["web1", "db2"],
    async (f) => {
      await f.repo.write({ "configurations/db2/ssh_host_ed25519_key.pub": null });
      const text = await Deno.readTextFile(f.repo.path(".sops.yaml"));
      const bob = await makeAgeKey(f.keysDir, "bob");
      await f.repo.write({
        ".sops.yaml": text.replace("  # Hosts:", `  - &admin_bob ${bob.recipient}\n  # Hosts:`),
      });
      return { args: ["rekey", "--parallel", "1"] };
    },
    async (f, finished) => {
      if (finished === "rekey") {
        const check = await f.task("rekey", ["--check"]);
        assertEquals(check.stdout.includes("recipients differ"), false, check.stdout);
        assert(
          (await f.decryptAs("secrets/shared.yaml", f.hosts.get("db2")!.identityFile)).code !== 0,
        );
      } else {
        // Undone: db2 still reads the shared file, as before the run.
        assertEquals(
          (await f.decryptAs("secrets/shared.yaml", f.hosts.get("db2")!.identityFile)).code,
          0,
        );
      }
    },
  );
});

Deno.test("secrets host add killed at any point: all files decrypt; rekey or --abort leaves a consistent tree", async () => {
  let app1Pub = "";
  await killEverywhere(
    ["web1"],
    async (f) => {
      const app1 = await makeHostKey(f.keysDir, "app1");
      app1Pub = `${app1.privatePath}.pub`;
      return { args: ["host", "add", "app1", "--key-file", app1Pub, "-y", "--parallel", "1"] };
    },
    async (f) => {
      const check = await f.task("rekey", ["--check"]);
      const pub = await Deno.stat(f.repo.path("configurations/app1/ssh_host_ed25519_key.pub"))
        .then(() => true, () => false);
      if (pub) {
        assertEquals(check.code, 0, `host added in full: ${check.stdout}${check.stderr}`);
      } else {
        // Undone in full: no key, no file, no anchor; host add can run again.
        assertEquals(check.code, 0, check.stdout);
        const again = await f.task("secrets", ["host", "add", "app1", "--key-file", app1Pub, "-y"]);
        assertEquals(again.code, 0, again.stderr);
      }
    },
  );
});

Deno.test("secrets admin remove killed at any point: the remover's files decrypt; rekey finishes", async () => {
  await killEverywhere(
    ["web1"],
    async (f) => {
      const me = await makeAgeKey(f.keysDir, "me");
      const text = await Deno.readTextFile(f.repo.path(".sops.yaml"));
      await f.repo.write({
        ".sops.yaml": text.replace("  # Hosts:", `  - &admin_me ${me.recipient}\n  # Hosts:`)
          .replace("          - *admin_alice\n", "          - *admin_me\n"),
      });
      const rekeyed = await f.task("rekey", []);
      assertEquals(rekeyed.code, 0, rekeyed.stderr);
      return { args: ["admin", "remove", "alice", "--parallel", "1"], identityFile: me.file };
    },
    async (f) => {
      // Finished or undone, the tree is consistent; alice is out exactly when .sops.yaml says so.
      const check = await f.task("rekey", ["--check"]);
      assertEquals(check.stdout.includes("recipients differ"), false, check.stdout);
      if (!(await Deno.readTextFile(f.repo.path(".sops.yaml"))).includes("&admin_alice")) {
        for (const path of await listSecrets(f)) {
          assert((await f.decryptAs(path, f.admin.file)).code !== 0, `${path}: alice is out`);
        }
      }
    },
  );
});
