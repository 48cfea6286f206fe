// lsblk --json outputs for tests, in the exact schema `lsblk` (util-linux 2.38) prints for
// LSBLK_ARGV: this machine shows only a virtual disk and zram, so other disks are crafted.
import type { BlockDevice } from "./devices.ts";

/** What lsblk printed on the test machine for LSBLK_ARGV (a virtual disk and zram). */
export const THIS_MACHINE = `{
   "blockdevices": [
      {
         "name": "zram0",
         "path": "/dev/zram0",
         "type": "disk",
         "rm": false,
         "hotplug": false,
         "tran": null,
         "size": 0,
         "model": null,
         "serial": null,
         "ro": false,
         "mountpoints": [
             null
         ]
      },{
         "name": "vda",
         "path": "/dev/vda",
         "type": "disk",
         "rm": false,
         "hotplug": false,
         "tran": null,
         "size": 274877906944,
         "model": null,
         "serial": null,
         "ro": false,
         "mountpoints": [
             "/"
         ]
      }
   ]
}`;

/** A USB stick `name` at `path` of `size` bytes, with `children` partitions. */
export function usbStick(
  name: string,
  size: number,
  extra: Partial<BlockDevice> = {},
): BlockDevice {
  return {
    name,
    path: `/dev/${name}`,
    type: "disk",
    rm: true,
    hotplug: true,
    tran: "usb",
    size,
    model: "Ultra Fit       ",
    serial: "4C530001230512104215",
    ro: false,
    mountpoints: [null],
    ...extra,
  };
}

/** A partition of a disk, as lsblk nests it under "children". */
export function partition(name: string, mountpoint: string | null): BlockDevice {
  return {
    name,
    path: `/dev/${name}`,
    type: "part",
    rm: true,
    hotplug: true,
    tran: null,
    size: 1024 * 1024,
    model: null,
    serial: null,
    ro: false,
    mountpoints: [mountpoint],
  };
}

/** lsblk's JSON for this machine's disks plus `extra`, indented as lsblk indents it. */
export function lsblkJson(extra: readonly BlockDevice[]): string {
  const real = JSON.parse(THIS_MACHINE) as { blockdevices: BlockDevice[] };
  return JSON.stringify({ blockdevices: [...real.blockdevices, ...extra] }, null, 3);
}
