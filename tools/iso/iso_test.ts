// End-to-end tests of `deno task iso`: the real nix builds the fixture flake's isoImage; a
// regular file stands in for the USB stick, listed by an lsblk that prints a crafted output in
// lsblk's own schema (this machine has no removable disk to list).
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/assert.ts";
import { createFixtureFlake } from "../testing/fixture_flake.ts";
import { runProgramOk } from "../testing/run.ts";
import { createProgramsBin, installToolkit, runTask, TOOL_PROGRAMS } from "../testing/task.ts";
import type { BlockDevice } from "./devices.ts";
import { lsblkJson, partition, usbStick } from "./_lsblk_fixture.ts";
import type { IsoReport } from "./main.ts";

const ISO_BYTES = 3 * 1024 * 1024 + 100;

async function setup(stick: (devicePath: string) => BlockDevice) {
  const flake = await createFixtureFlake([{ name: "iso-headless", isoBytes: ISO_BYTES }]);
  await installToolkit(flake.dir);
  const bin = await createProgramsBin([...TOOL_PROGRAMS, "sha256sum", "dd", "readlink"]);
  const device = `${flake.dir}.sdz`;
  await Deno.writeFile(device, new Uint8Array(8 * 1024 * 1024).fill(0xee));
  await Deno.writeTextFile(`${flake.dir}.lsblk.json`, lsblkJson([stick(device)]));
  await Deno.writeTextFile(
    `${bin.dir}/lsblk`,
    `#!/bin/sh\nexec /bin/cat '${flake.dir}.lsblk.json'\n`,
  );
  await Deno.chmod(`${bin.dir}/lsblk`, 0o755);
  const run = (args: string[], stdin?: string) =>
    runTask(flake.dir, "iso", args, { bin, ...(stdin === undefined ? {} : { stdin }) });
  return {
    flake,
    device,
    run,
    lsblkPath: `${bin.dir}/lsblk`,
    deviceBytes: () => Deno.readFile(device),
    async [Symbol.asyncDispose]() {
      await Deno.remove(device).catch(() => {});
      await Deno.remove(`${flake.dir}.lsblk.json`).catch(() => {});
      await bin[Symbol.asyncDispose]();
      await flake[Symbol.asyncDispose]();
    },
  };
}

const stickAt = (size = 8 * 1024 * 1024) => (path: string) =>
  usbStick("sdz", size, { path, children: [partition("sdz1", null)] });

Deno.test("iso builds the image with nix and prints its path, size and sha256", async () => {
  await using t = await setup(stickAt());
  const result = await t.run(["--json"]);
  assertEquals(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as IsoReport;
  assert(report.image !== undefined);
  assertMatch(
    report.image.path,
    /^\/nix\/store\/[^/]+-nixos-iso-headless\.iso\/iso\/nixos-iso-headless\.iso$/,
  );
  assertEquals(report.image.size, ISO_BYTES);
  const sha256sum = (await runProgramOk(["sha256sum", report.image.path])).split(" ")[0];
  assertEquals(report.image.sha256, sha256sum);
  assertEquals(report.written, undefined);

  const human = await t.run([]);
  assertEquals(human.code, 0, human.stderr);
  assertStringIncludes(human.stdout, report.image.path);
  assertStringIncludes(human.stdout, `sha256 ${sha256sum}`);
});

Deno.test("iso --write --yes-i-know writes the stick, reads it back and reports it verified", async () => {
  await using t = await setup(stickAt());
  const result = await t.run(["--write", "sdz", "--yes-i-know", "sdz", "--json"]);
  assertEquals(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as IsoReport;
  const image = await Deno.readFile(report.image!.path);
  const device = await t.deviceBytes();
  assertEquals(device.subarray(0, image.length), image);
  assertEquals(report.written?.verified, true);
  assertEquals(report.written?.bytes, ISO_BYTES);
  assertEquals(report.written?.serial, "4C530001230512104215");
  assertStringIncludes(result.stderr, "write  3.0 MiB / 3.0 MiB  100%");
  assertStringIncludes(result.stderr, "verify 3.0 MiB / 3.0 MiB  100%");
});

Deno.test("iso --write asks for the device name: the right name writes, a wrong one writes nothing", async () => {
  await using t = await setup(stickAt());
  const before = await t.deviceBytes();
  const wrong = await t.run(["--write", "sdz"], "sda\n");
  assertEquals(wrong.code, 1);
  assertMatch(wrong.stderr, /error: Cannot write to ".*sdz": "sda" is not "sdz"; nothing written/);
  assertStringIncludes(wrong.stderr, "Ultra Fit, serial 4C530001230512104215, 8.0 MiB, usb");
  assertEquals(await t.deviceBytes(), before);

  const closed = await t.run(["--write", "sdz"]);
  assertEquals(closed.code, 1);
  assertStringIncludes(closed.stderr, "no confirmation (stdin closed)");
  assertEquals(await t.deviceBytes(), before);

  const right = await t.run(["--write", "sdz"], "sdz\n");
  assertEquals(right.code, 0, right.stderr);
  assertStringIncludes(right.stdout, "verified");
  assert((await t.deviceBytes())[0] !== 0xee);
});

Deno.test("iso --write refuses a mounted stick before building and a stick too small after", async () => {
  {
    await using t = await setup((path) =>
      usbStick("sdz", 8 * 1024 * 1024, { path, children: [partition("sdz1", "/media/usb")] })
    );
    const before = await t.deviceBytes();
    const result = await t.run(["--write", "sdz", "--yes-i-know", "sdz"]);
    assertEquals(result.code, 1);
    assertEquals(
      result.stderr.trim(),
      `error: Cannot write to "${t.device}": /dev/sdz1 is mounted at /media/usb; unmount it first`,
    );
    assertEquals(await t.deviceBytes(), before);
  }
  {
    await using t = await setup(stickAt(1024 * 1024));
    const before = await t.deviceBytes();
    const result = await t.run(["--write", "sdz", "--yes-i-know", "sdz"]);
    assertEquals(result.code, 1);
    assertStringIncludes(result.stderr, "it holds 1.0 MiB, the image needs 3.0 MiB");
    assertEquals(await t.deviceBytes(), before);
  }
});

Deno.test("iso --yes-i-know must name the device given to --write; --dry-run builds and writes nothing", async () => {
  await using t = await setup(stickAt());
  const before = await t.deviceBytes();
  const other = await t.run(["--write", "sdz", "--yes-i-know", "sdb"]);
  assertEquals(other.code, 2);
  assertStringIncludes(other.stderr, `--yes-i-know "sdb" does not name the device`);
  const dry = await t.run(["--write", "sdz", "--dry-run"]);
  assertEquals(dry.code, 0, dry.stderr);
  assertMatch(
    dry.stderr,
    /would run: nix build --json --no-link .*#nixosConfigurations\.iso-headless\.config\.system\.build\.isoImage/,
  );
  assertEquals(await t.deviceBytes(), before);
});

Deno.test("iso --write writes a real block device (a loop device) with the task's own permissions", async () => {
  // Deno opens paths under /dev only with --allow-all; the task has far less, so this fails
  // unless the device is written and read by dd.
  await using t = await setup(stickAt());
  const backing = `${t.flake.dir}.backing`;
  await Deno.writeFile(backing, new Uint8Array(8 * 1024 * 1024));
  const loop = (await runProgramOk(["losetup", "--find", "--show", backing])).trim();
  try {
    const name = loop.replace("/dev/", "");
    await Deno.writeTextFile(
      `${t.flake.dir}.lsblk.json`,
      lsblkJson([usbStick(name, 8 * 1024 * 1024)]),
    );
    const result = await t.run(["--write", loop, "--yes-i-know", name, "--json"]);
    assertEquals(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as IsoReport;
    assertEquals(report.written?.device, loop);
    const image = await Deno.readFile(report.image!.path);
    await runProgramOk(["sync"]);
    assertEquals((await Deno.readFile(backing)).subarray(0, image.length), image);
  } finally {
    await runProgramOk(["losetup", "-d", loop]);
    await Deno.remove(backing);
  }
});

Deno.test("iso --write with a /dev/disk/by-id style link takes --yes-i-know spelled the same way, and refuses another disk's link", async () => {
  await using t = await setup(stickAt());
  const link = `${t.flake.dir}.usb-SanDisk_Ultra_Fit`;
  const elsewhere = `${t.flake.dir}.other-disk`;
  await Deno.writeTextFile(elsewhere, "");
  const otherLink = `${t.flake.dir}.ata-Other_Disk`;
  await Deno.symlink(t.device, link);
  await Deno.symlink(elsewhere, otherLink);
  try {
    const before = await t.deviceBytes();
    const other = await t.run(["--write", link, "--yes-i-know", otherLink]);
    assertEquals(other.code, 2, other.stderr);
    assertStringIncludes(other.stderr, "does not name the device");
    assert(!other.stderr.includes("build iso-headless"), "refused before the build");
    assertEquals(await t.deviceBytes(), before);

    const result = await t.run(["--write", link, "--yes-i-know", link, "--json"]);
    assertEquals(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout) as IsoReport;
    assertEquals(report.written?.device, t.device);
    assertEquals(report.written?.verified, true);
  } finally {
    await Deno.remove(link);
    await Deno.remove(otherLink);
    await Deno.remove(elsewhere);
  }
});

Deno.test("iso --write checks the stick again after the confirmation: one mounted meanwhile is not written", async () => {
  await using t = await setup(stickAt());
  const mounted = lsblkJson([
    usbStick("sdz", 8 * 1024 * 1024, {
      path: t.device,
      children: [partition("sdz1", "/media/usb")],
    }),
  ]);
  // The desktop mounts the stick while the user types its name: from the third lsblk on.
  await Deno.writeTextFile(`${t.flake.dir}.lsblk-mounted.json`, mounted);
  const count = `${t.flake.dir}.lsblk-count`;
  await Deno.writeTextFile(
    t.lsblkPath,
    `#!/bin/sh\necho x >> '${count}'\nif [ "$(/usr/bin/wc -l < '${count}')" -ge 3 ]; then exec /bin/cat '${t.flake.dir}.lsblk-mounted.json'; fi\nexec /bin/cat '${t.flake.dir}.lsblk.json'\n`,
  );
  try {
    const before = await t.deviceBytes();
    const result = await t.run(["--write", "sdz"], "sdz\n");
    assertEquals(result.code, 1, result.stderr);
    assertStringIncludes(result.stderr, "/dev/sdz1 is mounted at /media/usb; unmount it first");
    assertEquals(await t.deviceBytes(), before);
  } finally {
    await Deno.remove(`${t.flake.dir}.lsblk-mounted.json`);
    await Deno.remove(count).catch(() => {});
  }
});
