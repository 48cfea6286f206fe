// init killed with SIGKILL at several points of its run (a journal written, an output recorded,
// a file renamed, in both of its lists of steps) and run again: every file decrypts with the
// owner's or the example's key meanwhile, and the second run finishes with everything an
// uninterrupted run guarantees.
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { createProgramsBin, runTask } from "../testing/task.ts";
import { runProgram } from "../testing/run.ts";
import {
  assertMadeYours,
  createFreshClone,
  createOwner,
  decrypt,
  INIT_PROGRAMS,
  initArgs,
  ownerEnv,
  secretFiles,
} from "./_test_support.ts";

/**
 * Points of an uninterrupted run on a fresh clone (42 in all): 1 its journal written, 3
 * `.sops.yaml` renamed, 33 every plain write done and no file re-encrypted, 35 one file
 * re-encrypted, 37 all of them (journal not yet dropped), 38 the second list's journal, 40 the
 * example admin key deleted but not dev-vm's example key.
 */
const KILL_POINTS = [1, 3, 33, 35, 37, 38, 40];

Deno.test("init killed at several points, then run again, finishes as an uninterrupted run", async () => {
  await using bin = await createProgramsBin(INIT_PROGRAMS);
  let owner: Awaited<ReturnType<typeof createOwner>> | undefined;
  try {
    for (const at of KILL_POINTS) {
      await using repo = await createFreshClone();
      owner ??= await createOwner(repo);
      const env = { ...ownerEnv(owner), PATH: bin.dir, NO_COLOR: "1" };
      const killed = await runProgram(
        [`${bin.dir}/deno`, "run", "-A", "tools/init/_kill_at.ts", String(at), ...initArgs(owner)],
        { cwd: repo.dir, env },
      );
      assertEquals(killed.code, 137, `killed at ${at}: ${killed.stderr}`);
      // Meanwhile every file is the example's or the owner's: nothing is lost.
      const either = `${owner.home}/either.txt`;
      await Deno.writeTextFile(
        either,
        `${await Deno.readTextFile(owner.adminKey)}\n${await Deno.readTextFile(owner.historyKeys)}`,
      );
      for (const path of await secretFiles(repo)) {
        const r = await decrypt(repo, path, either);
        assertEquals(r.code, 0, `killed at ${at}: ${path} decrypts: ${r.stderr}`);
      }
      const again = await runTask(repo.dir, "init", initArgs(owner), {
        bin,
        env: ownerEnv(owner),
      });
      assertEquals(again.code, 0, `after a kill at ${at}: ${again.stderr}`);
      await assertMadeYours(repo, owner, bin);
      for (const gone of ["configurations/nas1", "configurations/desk1", "secrets/users/sam"]) {
        assert(
          !await Deno.lstat(repo.path(gone)).then(() => true, () => false),
          `after a kill at ${at}: ${gone} is removed`,
        );
      }
      const third = await runTask(repo.dir, "init", initArgs(owner), {
        bin,
        env: ownerEnv(owner),
      });
      assertEquals(third.code, 0, third.stderr);
      assertMatch(third.stdout, /^Nothing to do: the repository is yours already$/m);
    }
  } finally {
    await owner?.[Symbol.asyncDispose]();
  }
});
