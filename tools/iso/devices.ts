// Choosing the disk to write the installer image to, from what `lsblk --json` reports (pure).
import { z } from "zod";
import { parseOrThrow } from "../lib/validate.ts";

/** The lsblk call whose output {@linkcode parseLsblk} reads. */
export const LSBLK_ARGV = [
  "lsblk",
  "--json",
  "--bytes",
  "--tree",
  "--output",
  "NAME,PATH,TYPE,RM,HOTPLUG,TRAN,SIZE,MODEL,SERIAL,RO,MOUNTPOINTS",
] as const;

/** One block device as lsblk prints it (util-linux 2.38 field names). */
export interface BlockDevice {
  name: string;
  path: string;
  type: string;
  rm: boolean;
  hotplug: boolean;
  tran: string | null;
  size: number;
  model: string | null;
  serial: string | null;
  ro: boolean;
  mountpoints: (string | null)[];
  children?: BlockDevice[];
}

// lsblk prints booleans as true/false, but older versions print "0"/"1"; accept both.
const flag = z.union([z.boolean(), z.enum(["0", "1"]).transform((v) => v === "1")]);
const size = z.union([z.number(), z.string().regex(/^\d+$/).transform(Number)]);

const blockDevice: z.ZodType<BlockDevice> = z.lazy(() =>
  z.object({
    name: z.string(),
    path: z.string(),
    type: z.string(),
    rm: flag,
    hotplug: flag,
    tran: z.string().nullable(),
    size,
    model: z.string().nullable().transform((v) => v?.trim() ?? null),
    serial: z.string().nullable().transform((v) => v?.trim() ?? null),
    ro: flag,
    mountpoints: z.array(z.string().nullable()),
    children: z.array(blockDevice).optional(),
  }) as z.ZodType<BlockDevice>
);

const lsblkOutput = z.object({ blockdevices: z.array(blockDevice) });

/** Parses lsblk's JSON output; throws naming the field lsblk printed wrong. */
export function parseLsblk(json: string): BlockDevice[] {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    throw new Error("Cannot read the disks: lsblk printed no JSON");
  }
  return parseOrThrow(lsblkOutput, value, "lsblk output").blockdevices;
}

/** Mount points that mean "this disk holds the running system". */
export const SYSTEM_MOUNTPOINTS = [
  "/",
  "/boot",
  "/boot/efi",
  "/nix",
  "/nix/store",
  "/usr",
  "[SWAP]",
];

/** The disk the image may be written to. */
export interface ChosenDisk {
  name: string;
  path: string;
  size: number;
  model: string | null;
  serial: string | null;
  tran: string | null;
}

/** Why a device was refused: one case per rule. */
export type DiskRefusal =
  | { kind: "not-found"; device: string; disks: string[] }
  | { kind: "partition"; device: string; disk: string }
  | { kind: "not-a-disk"; device: string; type: string }
  | { kind: "not-removable"; device: string }
  | { kind: "read-only"; device: string }
  | { kind: "system"; device: string; mountpoint: string }
  | { kind: "mounted"; device: string; mountedDevice: string; mountpoint: string }
  | { kind: "too-small"; device: string; size: number; needed: number };

/** The outcome of {@linkcode chooseDisk}. */
export type DiskChoice = { kind: "chosen"; disk: ChosenDisk } | {
  kind: "refused";
  refusal: DiskRefusal;
};

function mounts(device: BlockDevice): { device: string; mountpoint: string }[] {
  const own = device.mountpoints.filter((m): m is string => m !== null && m !== "")
    .map((mountpoint) => ({ device: device.path, mountpoint }));
  return [...own, ...(device.children ?? []).flatMap(mounts)];
}

function findPartition(
  devices: readonly BlockDevice[],
  matches: (d: BlockDevice) => boolean,
): { disk: BlockDevice } | undefined {
  for (const disk of devices) {
    const stack = [...(disk.children ?? [])];
    while (stack.length > 0) {
      const child = stack.pop()!;
      if (matches(child)) return { disk };
      stack.push(...(child.children ?? []));
    }
  }
  return undefined;
}

/**
 * Picks `requested` (`/dev/sdb` or `sdb`) among lsblk's devices: only a whole disk that is
 * removable or on USB, writable, with nothing of it mounted, not holding the running system,
 * and at least `imageSize` bytes.
 */
export function chooseDisk(
  devices: readonly BlockDevice[],
  requested: string,
  imageSize: number,
): DiskChoice {
  const refuse = (refusal: DiskRefusal): DiskChoice => ({ kind: "refused", refusal });
  const matches = (d: BlockDevice) => d.path === requested || d.name === requested;
  const device = devices.find(matches);
  if (device === undefined) {
    const partition = findPartition(devices, matches);
    if (partition !== undefined) {
      return refuse({ kind: "partition", device: requested, disk: partition.disk.path });
    }
    return refuse({
      kind: "not-found",
      device: requested,
      disks: devices.filter((d) => d.type === "disk").map((d) => d.path),
    });
  }
  if (device.type !== "disk") {
    return refuse({ kind: "not-a-disk", device: device.path, type: device.type });
  }
  const mounted = mounts(device);
  const system = mounted.find((m) => SYSTEM_MOUNTPOINTS.includes(m.mountpoint));
  if (system !== undefined) {
    return refuse({ kind: "system", device: device.path, mountpoint: system.mountpoint });
  }
  if (!device.rm && !device.hotplug && device.tran !== "usb") {
    return refuse({ kind: "not-removable", device: device.path });
  }
  const first = mounted[0];
  if (first !== undefined) {
    return refuse({
      kind: "mounted",
      device: device.path,
      mountedDevice: first.device,
      mountpoint: first.mountpoint,
    });
  }
  if (device.ro) return refuse({ kind: "read-only", device: device.path });
  if (device.size < imageSize) {
    return refuse({ kind: "too-small", device: device.path, size: device.size, needed: imageSize });
  }
  return {
    kind: "chosen",
    disk: {
      name: device.name,
      path: device.path,
      size: device.size,
      model: device.model,
      serial: device.serial,
      tran: device.tran,
    },
  };
}

/** Bytes for people: `1.2 GiB`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** The one-line error for a refusal. */
export function refusalMessage(refusal: DiskRefusal): string {
  const prefix = `Cannot write to "${refusal.device}"`;
  switch (refusal.kind) {
    case "not-found":
      return `${prefix}: lsblk lists no such device (disks: ${refusal.disks.join(", ") || "none"})`;
    case "partition":
      return `${prefix}: it is a partition of ${refusal.disk}; name the whole disk`;
    case "not-a-disk":
      return `${prefix}: lsblk says it is a ${refusal.type}, not a whole disk`;
    case "not-removable":
      return `${prefix}: it is neither removable nor on USB; only a USB stick or card is written`;
    case "read-only":
      return `${prefix}: it is read-only (a write-protect switch?)`;
    case "system":
      return `${prefix}: it holds the running system (${refusal.mountpoint} is mounted from it)`;
    case "mounted":
      return `${prefix}: ${refusal.mountedDevice} is mounted at ${refusal.mountpoint}; unmount it first`;
    case "too-small":
      return `${prefix}: it holds ${formatBytes(refusal.size)}, the image needs ${
        formatBytes(refusal.needed)
      }`;
  }
}
