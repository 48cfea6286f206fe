import { assert, assertEquals, assertMatch, assertRejects } from "../testing/assert.ts";
import { runProgram, runProgramOk } from "../testing/run.ts";
import { fileSha256, type Progress, progressLine, readBack, writeImage } from "./write.ts";

async function tempDir(): Promise<AsyncDisposable & { dir: string }> {
  const dir = await Deno.makeTempDir({ prefix: "iso-write-" });
  return { dir, [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }) };
}

/** An image of `size` bytes that differ from position to position. */
async function makeImage(path: string, size: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
  await Deno.writeFile(path, bytes);
  return bytes;
}

Deno.test("writeImage() writes the image over the start of a device file and readBack() matches it", async () => {
  await using tmp = await tempDir();
  const image = await makeImage(`${tmp.dir}/image.iso`, 3 * 1024 * 1024 + 17);
  // The stand-in device is larger than the image and holds old data after it.
  const device = `${tmp.dir}/device`;
  await Deno.writeFile(device, new Uint8Array(5 * 1024 * 1024).fill(0xee));
  const seen: Progress[] = [];
  const written = await writeImage(`${tmp.dir}/image.iso`, device, {
    chunkSize: 1024 * 1024,
    onProgress: (p) => seen.push(p),
  });
  assertEquals(written.bytes, image.length);
  assertEquals(written.sha256, await fileSha256(`${tmp.dir}/image.iso`));
  assertEquals(seen.map((p) => p.done), [1, 2, 3].map((m) => m * 1024 * 1024).concat(image.length));
  const after = await Deno.readFile(device);
  assertEquals(after.length, 5 * 1024 * 1024, "a device is never truncated");
  assertEquals(after.subarray(0, image.length), image);
  assertEquals((await readBack(device, written)).kind, "match");
});

Deno.test("writeImage() never creates a device that does not exist", async () => {
  await using tmp = await tempDir();
  await makeImage(`${tmp.dir}/image.iso`, 1024);
  await assertRejects(
    () => writeImage(`${tmp.dir}/image.iso`, `${tmp.dir}/sdz`),
    Error,
    `Cannot write to "${tmp.dir}/sdz": dd failed:`,
  );
  assertEquals(await Deno.stat(`${tmp.dir}/sdz`).catch(() => undefined), undefined);
});

Deno.test("readBack() catches a short read-back and a changed byte", async () => {
  await using tmp = await tempDir();
  await makeImage(`${tmp.dir}/image.iso`, 200_000);
  const device = `${tmp.dir}/device`;
  await Deno.writeFile(device, new Uint8Array(0));
  const written = await writeImage(`${tmp.dir}/image.iso`, device);
  // A stick that keeps less than it accepted: the end of the image is not there to read.
  await Deno.truncate(device, 150_000);
  assertEquals(await readBack(device, written), {
    kind: "short",
    read: 150_000,
    expected: 200_000,
  });

  await writeImage(`${tmp.dir}/image.iso`, device);
  using file = await Deno.open(device, { write: true });
  await file.seek(123_456, Deno.SeekMode.Start);
  await file.write(new Uint8Array([0]));
  const changed = await readBack(device, written);
  assertEquals(changed.kind, "mismatch");
});

Deno.test("writeImage() and readBack() on a real loop device; a device too small fails the write", async () => {
  await using tmp = await tempDir();
  const backing = `${tmp.dir}/backing`;
  await Deno.writeFile(backing, new Uint8Array(4 * 1024 * 1024));
  const loop = (await runProgramOk(["losetup", "--find", "--show", backing])).trim();
  assertMatch(loop, /^\/dev\/loop\d+$/);
  try {
    const image = await makeImage(`${tmp.dir}/image.iso`, 3 * 1024 * 1024 + 512);
    const written = await writeImage(`${tmp.dir}/image.iso`, loop);
    assertEquals((await readBack(loop, written)).kind, "match");
    assertEquals((await Deno.readFile(backing)).subarray(0, image.length), image);

    await makeImage(`${tmp.dir}/big.iso`, 5 * 1024 * 1024);
    const error = await assertRejects(() => writeImage(`${tmp.dir}/big.iso`, loop));
    assert(/space|No space/i.test(error.message), error.message);
  } finally {
    await runProgram(["losetup", "-d", loop]);
  }
});

Deno.test("progressLine() shows bytes, percent, rate and ETA", () => {
  const MiB = 1024 * 1024;
  assertEquals(
    progressLine({ phase: "write", done: 512 * MiB, total: 1024 * MiB, elapsedMs: 12_800 }),
    "write  512.0 MiB / 1.0 GiB  50%  40.0 MiB/s  ETA 13 s",
  );
  assertEquals(
    progressLine({ phase: "verify", done: 0, total: MiB, elapsedMs: 0 }),
    "verify 0 B / 1.0 MiB  0%  0 B/s  ETA ?",
  );
});
