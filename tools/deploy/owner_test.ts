// Who is dead (owner.ts): only a free lock on an existing owner file proves it.
import { assert, assertEquals } from "../testing/assert.ts";
import {
  clearStaleRunDir,
  DEAD_OWNER_KEEP_SECONDS,
  deployerIsDead,
  makeRunDir,
  OWNER_FILE,
  parseDeployerId,
  staleRunDirs,
} from "./owner.ts";

Deno.test("deployerIsDead(): a live deployer is not dead; a folder not found proves nothing (another machine of the same name, another mount namespace)", async () => {
  await using live = await makeRunDir();
  assertEquals(await deployerIsDead(live.id), false, "its owner file is locked");
  const parsed = parseDeployerId(live.id)!;
  // The same machine name and a folder that is not there (as seen from another machine or a
  // PrivateTmp namespace): not dead.
  const unseen = live.id.replace(parsed.dir, `${parsed.dir}-not-here`);
  assertEquals(await deployerIsDead(unseen), false);
});

Deno.test("keepOwner(): an ended deployer leaves its owner file, unlocked: the proof of its death, which the next run finds as stale", async () => {
  let id: string;
  let dir: string;
  {
    await using ended = await makeRunDir();
    ({ id, dir } = ended);
    await Deno.writeTextFile(`${dir}/known_hosts`, "");
    ended.keepOwner();
  }
  try {
    assertEquals((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), [OWNER_FILE]);
    assertEquals(await deployerIsDead(id), true);
    await using next = await makeRunDir();
    const stale = await staleRunDirs(next.dir);
    assert(stale.some((s) => s.dir === dir && s.owner === id), JSON.stringify(stale));
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});

Deno.test("clearStaleRunDir(): a dead deployer's owner file stays as the proof for a day, nothing else; then the folder goes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "devops-deploy-" });
  try {
    await Deno.writeTextFile(`${dir}/${OWNER_FILE}`, "user@box:1:/tmp/x\n");
    await Deno.writeTextFile(`${dir}/known_hosts`, "");
    await Deno.mkdir(`${dir}/sub`);
    await clearStaleRunDir(dir);
    assertEquals((await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name), [OWNER_FILE]);
    await clearStaleRunDir(dir, Date.now() + (DEAD_OWNER_KEEP_SECONDS + 60) * 1000);
    assertEquals(await Deno.lstat(dir).then(() => true, () => false), false);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
});
