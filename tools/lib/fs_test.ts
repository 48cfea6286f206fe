import { assert, assertEquals } from "../testing/assert.ts";
import { readTextIfExists, writeFileAtomic } from "./fs.ts";

Deno.test("writeFileAtomic() writes, then skips unchanged content", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/a.txt`;
  assertEquals(await writeFileAtomic(path, "one"), true);
  const before = (await Deno.stat(path)).mtime;
  assertEquals(await writeFileAtomic(path, "one"), false);
  assertEquals((await Deno.stat(path)).mtime, before);
  assertEquals(await writeFileAtomic(path, "two"), true);
  assertEquals(await Deno.readTextFile(path), "two");
  assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["a.txt"], "no temp file left");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("writeFileAtomic() keeps an existing file's mode and sets a new one's", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/secret`, "x", { mode: 0o600 });
  await Deno.chmod(`${dir}/secret`, 0o600);
  await writeFileAtomic(`${dir}/secret`, "y");
  assertEquals((await Deno.stat(`${dir}/secret`)).mode! & 0o777, 0o600);
  await writeFileAtomic(`${dir}/key`, "z", { mode: 0o600 });
  assertEquals((await Deno.stat(`${dir}/key`)).mode! & 0o777, 0o600);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("writeFileAtomic() leaves the old file whole when the write fails", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/a`, "old");
  await Deno.mkdir(`${dir}/a.d`);
  let failed = false;
  try {
    await writeFileAtomic(`${dir}/missing-folder/a`, "new");
  } catch {
    failed = true;
  }
  assert(failed);
  assertEquals(await Deno.readTextFile(`${dir}/a`), "old");
  assertEquals(await readTextIfExists(`${dir}/nope`), undefined);
  await Deno.remove(dir, { recursive: true });
});
