import { assert, assertEquals, assertMatch, assertThrows } from "../testing/assert.ts";
import { runProgramOk } from "../testing/run.ts";
import { chooseDisk, LSBLK_ARGV, parseLsblk, refusalMessage } from "./devices.ts";
import { lsblkJson, partition, THIS_MACHINE, usbStick } from "./_lsblk_fixture.ts";

const GiB = 1024 ** 3;

function refusal(json: string, device: string, size = GiB) {
  const choice = chooseDisk(parseLsblk(json), device, size);
  assert(choice.kind === "refused", `expected a refusal for ${device}`);
  return choice.refusal;
}

Deno.test("parseLsblk() reads what the real lsblk prints here", async () => {
  const devices = parseLsblk(await runProgramOk([...LSBLK_ARGV]));
  assert(devices.length > 0);
  assert(devices.every((d) => d.path.startsWith("/dev/")));
});

Deno.test("chooseDisk() refuses every disk of this machine: system disk and non-removable zram", () => {
  assertEquals(refusal(THIS_MACHINE, "/dev/vda").kind, "system");
  assertEquals(refusal(THIS_MACHINE, "vda").kind, "system");
  assertEquals(refusal(THIS_MACHINE, "/dev/zram0", 0).kind, "not-removable");
});

Deno.test("chooseDisk() picks a removable USB stick by path or name, with model and serial", () => {
  const json = lsblkJson([usbStick("sdb", 16 * GiB, { children: [partition("sdb1", null)] })]);
  for (const name of ["/dev/sdb", "sdb"]) {
    const choice = chooseDisk(parseLsblk(json), name, GiB);
    assert(choice.kind === "chosen");
    assertEquals(choice.disk, {
      name: "sdb",
      path: "/dev/sdb",
      size: 16 * GiB,
      model: "Ultra Fit",
      serial: "4C530001230512104215",
      tran: "usb",
    });
  }
});

Deno.test("chooseDisk() takes a USB disk that is not flagged removable, refuses a fixed one", () => {
  const usbDisk = usbStick("sdc", 16 * GiB, { rm: false, hotplug: false, tran: "usb" });
  const sata = usbStick("sdd", 16 * GiB, { rm: false, hotplug: false, tran: "sata" });
  const json = lsblkJson([usbDisk, sata]);
  assertEquals(chooseDisk(parseLsblk(json), "sdc", GiB).kind, "chosen");
  assertEquals(refusal(json, "sdd").kind, "not-removable");
});

Deno.test("chooseDisk() refuses a stick with a mounted partition, naming it", () => {
  const json = lsblkJson([
    usbStick("sdb", 16 * GiB, { children: [partition("sdb1", "/media/stick")] }),
  ]);
  const refused = refusal(json, "/dev/sdb");
  assertEquals(refused, {
    kind: "mounted",
    device: "/dev/sdb",
    mountedDevice: "/dev/sdb1",
    mountpoint: "/media/stick",
  });
  assertMatch(refusalMessage(refused), /sdb1 is mounted at \/media\/stick; unmount it first/);
});

Deno.test("chooseDisk() refuses a removable disk that holds the running system", () => {
  const json = lsblkJson([
    usbStick("sdb", 16 * GiB, {
      children: [partition("sdb1", "/boot"), partition("sdb2", "[SWAP]")],
    }),
  ]);
  assertEquals(refusal(json, "sdb"), { kind: "system", device: "/dev/sdb", mountpoint: "/boot" });
});

Deno.test("chooseDisk() refuses a stick smaller than the image", () => {
  const json = lsblkJson([usbStick("sdb", GiB - 1)]);
  const refused = refusal(json, "sdb", GiB);
  assertEquals(refused.kind, "too-small");
  assertMatch(refusalMessage(refused), /holds 1024\.0 MiB, the image needs 1\.0 GiB/);
});

Deno.test("chooseDisk() refuses a partition, a read-only stick and a device lsblk does not list", () => {
  const json = lsblkJson([
    usbStick("sdb", 16 * GiB, { children: [partition("sdb1", null)] }),
    usbStick("sdc", 16 * GiB, { ro: true }),
  ]);
  assertEquals(refusal(json, "/dev/sdb1"), {
    kind: "partition",
    device: "/dev/sdb1",
    disk: "/dev/sdb",
  });
  assertEquals(refusal(json, "sdc").kind, "read-only");
  const missing = refusal(json, "/dev/sdz");
  assertEquals(missing.kind, "not-found");
  assertMatch(refusalMessage(missing), /no such device \(disks: \/dev\/zram0, \/dev\/vda/);
});

Deno.test("chooseDisk() refuses a loop device even when flagged removable", () => {
  const json = lsblkJson([usbStick("loop0", 16 * GiB, { type: "loop" })]);
  assertEquals(refusal(json, "/dev/loop0").kind, "not-a-disk");
});

Deno.test("parseLsblk() names the field when lsblk prints something else", () => {
  assertThrows(() => parseLsblk("not json"), "lsblk printed no JSON");
  assertThrows(
    () => parseLsblk(`{"blockdevices":[{"name":"sdb"}]}`),
    "Invalid lsblk output: blockdevices.0.path",
  );
});
