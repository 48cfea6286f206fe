// Writing the installer image to a disk and reading it back: the one part of `iso` that changes
// a device. A regular file stands in for the disk in tests.
import { createHash } from "node:crypto";
import { startProcess } from "../lib/process_runner.ts";
import { formatBytes } from "./devices.ts";

/** How far a write or read-back has come. */
export interface Progress {
  phase: "write" | "verify";
  done: number;
  total: number;
  elapsedMs: number;
}

/** `write  512.0 MiB / 1.0 GiB  50%  40.0 MiB/s  ETA 13 s` (pure). */
export function progressLine(progress: Progress): string {
  const { done, total, elapsedMs } = progress;
  const percent = total === 0 ? 100 : Math.floor((done / total) * 100);
  const rate = elapsedMs > 0 ? done / (elapsedMs / 1000) : 0;
  const eta = rate > 0 ? Math.ceil((total - done) / rate) : undefined;
  return `${progress.phase === "write" ? "write " : "verify"} ${formatBytes(done)} / ${
    formatBytes(total)
  }  ${percent}%  ${formatBytes(Math.round(rate))}/s  ETA ${eta === undefined ? "?" : `${eta} s`}`;
}

/** Options for {@linkcode writeImage} and {@linkcode readBack}. */
export interface CopyOptions {
  /** Called after each chunk. */
  onProgress?: (progress: Progress) => void;
  chunkSize?: number;
}

const CHUNK = 4 * 1024 * 1024;

/** What was written: the byte count and the sha256 of the bytes sent to the device. */
export interface Written {
  bytes: number;
  sha256: string;
}

// Deno opens paths under /dev only with --allow-all, so the device is read and written by dd
// (coreutils): the tool itself needs no write permission at all. nocreat: a disk is never created;
// notrunc: a regular file standing in for a disk keeps its length; fsync: flushed before dd exits.
function ddWriteArgv(devicePath: string, chunkSize: number): string[] {
  return [
    "dd",
    `of=${devicePath}`,
    `bs=${chunkSize}`,
    "iflag=fullblock",
    "conv=notrunc,nocreat,fsync",
    "status=none",
  ];
}

function ddReadArgv(devicePath: string, bytes: number, chunkSize: number): string[] {
  return [
    "dd",
    `if=${devicePath}`,
    `bs=${chunkSize}`,
    `count=${bytes}`,
    "iflag=count_bytes,fullblock",
    "status=none",
  ];
}

/**
 * Copies `imagePath` to the start of `devicePath` (which must exist: a disk is never created)
 * and syncs it to the device. Returns the length and the sha256 of what was written.
 */
export async function writeImage(
  imagePath: string,
  devicePath: string,
  options: CopyOptions = {},
): Promise<Written> {
  const chunkSize = options.chunkSize ?? CHUNK;
  const total = (await Deno.stat(imagePath)).size;
  using image = await Deno.open(imagePath, { read: true });
  const dd = startProcess(ddWriteArgv(devicePath, chunkSize), { stdin: "piped" });
  const stderr = dd.stderrLastLine();
  const stdout = dd.stdout!.cancel();
  const writer = dd.stdin!.getWriter();
  const hash = createHash("sha256");
  const buffer = new Uint8Array(chunkSize);
  const started = performance.now();
  let done = 0;
  try {
    while (true) {
      const read = await image.read(buffer);
      if (read === null) break;
      const chunk = buffer.slice(0, read);
      await writer.write(chunk);
      hash.update(chunk);
      done += read;
      options.onProgress?.({ phase: "write", done, total, elapsedMs: performance.now() - started });
    }
    await writer.close();
  } catch {
    // dd stopped reading (it failed): its status and message say why.
  }
  const status = await dd.status;
  await stdout;
  if (!status.success) {
    throw new Error(
      `Cannot write to "${devicePath}": dd failed: ${await stderr || `exit code ${status.code}`}`,
    );
  }
  return { bytes: done, sha256: hash.digest("hex") };
}

/** The outcome of {@linkcode readBack}. */
export type ReadBack =
  | { kind: "match"; bytes: number; sha256: string }
  | { kind: "short"; read: number; expected: number }
  | { kind: "mismatch"; sha256: string; expected: string };

/** Reads the first `written.bytes` bytes of `devicePath` and compares their sha256. */
export async function readBack(
  devicePath: string,
  written: Written,
  options: CopyOptions = {},
): Promise<ReadBack> {
  const chunkSize = options.chunkSize ?? CHUNK;
  const dd = startProcess(ddReadArgv(devicePath, written.bytes, chunkSize), { stdin: "null" });
  const stderr = dd.stderrLastLine();
  const hash = createHash("sha256");
  const started = performance.now();
  let done = 0;
  for await (const chunk of dd.stdout!) {
    hash.update(chunk);
    done += chunk.length;
    options.onProgress?.({
      phase: "verify",
      done,
      total: written.bytes,
      elapsedMs: performance.now() - started,
    });
  }
  const status = await dd.status;
  if (!status.success) {
    throw new Error(
      `Cannot read back "${devicePath}": dd failed: ${await stderr || `exit code ${status.code}`}`,
    );
  }
  if (done < written.bytes) return { kind: "short", read: done, expected: written.bytes };
  const sha256 = hash.digest("hex");
  return sha256 === written.sha256
    ? { kind: "match", bytes: done, sha256 }
    : { kind: "mismatch", sha256, expected: written.sha256 };
}

/** The sha256 (hex) of a whole file, streamed. */
export async function fileSha256(path: string): Promise<string> {
  using file = await Deno.open(path, { read: true });
  const hash = createHash("sha256");
  const buffer = new Uint8Array(CHUNK);
  while (true) {
    const read = await file.read(buffer);
    if (read === null) break;
    hash.update(buffer.subarray(0, read));
  }
  return hash.digest("hex");
}
