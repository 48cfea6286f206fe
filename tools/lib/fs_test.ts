import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { runProgram } from "../testing/run.ts";
import { readTextIfExists, writeFileAtomic } from "./fs.ts";

Deno.test("writeFileAtomic() writes, then skips unchanged content", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/a.txt`;
  assertEquals(await writeFileAtomic(path, "one"), true);
  // An old mtime, so a rewrite shows even within the file system's timestamp resolution.
  const before = new Date("2001-02-03T04:05:06Z");
  await Deno.utime(path, before, before);
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

Deno.test("writeFileAtomic() leaves the target whole when the write fails part way", async () => {
  const dir = await Deno.makeTempDir();
  const target = `${dir}/a`;
  await Deno.writeTextFile(target, "old");
  const fsModule = new URL("./fs.ts", import.meta.url).href;
  const script = `import { writeFileAtomic } from ${JSON.stringify(fsModule)};
    await writeFileAtomic(${JSON.stringify(target)}, "x".repeat(1 << 20));`;
  // A file size limit makes the write itself fail after 64 KiB (EFBIG, with SIGXFSZ ignored).
  const result = await runProgram([
    "bash",
    "-c",
    `trap '' XFSZ; ulimit -f 64; exec "$0" eval "$1"`,
    Deno.execPath(),
    script,
  ]);
  assert(result.code !== 0, "the write must fail");
  assertMatch(result.stderr, /too large/i);
  assertEquals(await Deno.readTextFile(target), "old");
  assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["a"], "no temp file left");
  assertEquals(await readTextIfExists(`${dir}/nope`), undefined);
  await Deno.remove(dir, { recursive: true });
});
