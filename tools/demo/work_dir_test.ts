import { assertEquals } from "../testing/assert.ts";
import { createWorkDir, processStartTime, reapStaleWorkDirs, WORK_DIR_PREFIX } from "./work_dir.ts";

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

Deno.test("reapStaleWorkDirs() removes only folders whose owner process is gone", async () => {
  const parent = await Deno.makeTempDir({ prefix: "devops-reap-" });
  try {
    const dead = new Deno.Command("true").spawn();
    await dead.status;
    const folders: Record<string, string | undefined> = {
      alive: `${Deno.pid} ${await processStartTime(Deno.pid)}`,
      dead: `${dead.pid} 1`,
      // A reused pid: pid 1 runs, but it is not the process that made the folder.
      reused: "1 0",
      garbage: "not a pid",
      fresh: undefined,
      old: undefined,
    };
    for (const [name, owner] of Object.entries(folders)) {
      await Deno.mkdir(`${parent}/${WORK_DIR_PREFIX}${name}`);
      if (owner !== undefined) {
        await Deno.writeTextFile(`${parent}/${WORK_DIR_PREFIX}${name}/owner`, `${owner}\n`);
      }
    }
    const hourAgo = new Date(Date.now() - 3600_000);
    await Deno.utime(`${parent}/${WORK_DIR_PREFIX}old`, hourAgo, hourAgo);
    await Deno.mkdir(`${parent}/someone-elses`);

    const removed = await reapStaleWorkDirs(parent);
    assertEquals(
      removed.map((d) => d.slice(parent.length + 1 + WORK_DIR_PREFIX.length)).sort(),
      ["dead", "garbage", "old", "reused"],
    );
    for (const name of ["alive", "fresh"]) {
      assertEquals(await exists(`${parent}/${WORK_DIR_PREFIX}${name}`), true, name);
    }
    assertEquals(await exists(`${parent}/someone-elses`), true);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test("processStartTime() is stable for a process and undefined for none", async () => {
  const first = await processStartTime(Deno.pid);
  assertEquals(await processStartTime(Deno.pid), first);
  assertEquals(/^\d+$/.test(first ?? ""), true);
  const gone = new Deno.Command("true").spawn();
  await gone.status;
  assertEquals(await processStartTime(gone.pid), undefined);
});

Deno.test("createWorkDir() names this process as owner, so a reap keeps the folder", async () => {
  const parent = await Deno.makeTempDir({ prefix: "devops-reap-" });
  try {
    const dir = await createWorkDir(parent);
    assertEquals(dir.startsWith(`${parent}/${WORK_DIR_PREFIX}`), true);
    assertEquals(
      await Deno.readTextFile(`${dir}/owner`),
      `${Deno.pid} ${await processStartTime(Deno.pid)}\n`,
    );
    assertEquals(await reapStaleWorkDirs(parent), []);
    assertEquals((await Deno.stat(dir)).mode! & 0o777, 0o700);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});
