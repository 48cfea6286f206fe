// Builds the installer image (iso-headless) and can write it to a USB stick, verified by reading
// it back. `deno task iso [--write <device>]`, see `--help`.
import { newProgram, printResult, runMain, runnerFor } from "../lib/cli.ts";
import { UsageError } from "../lib/errors.ts";
import { ask } from "../lib/prompt.ts";
import { findRepoRoot } from "../lib/repo.ts";
import type { Runner } from "../lib/runner.ts";
import {
  chooseDisk,
  type ChosenDisk,
  formatBytes,
  LSBLK_ARGV,
  parseLsblk,
  refusalMessage,
} from "./devices.ts";
import { fileSha256, type Progress, progressLine, readBack, writeImage } from "./write.ts";

/** The configuration whose image is built. */
export const ISO_HOST = "iso-headless";

/** What `iso` did, as printed by --json. */
export interface IsoReport {
  image?: { path: string; size: number; sha256: string };
  written?: {
    device: string;
    model: string | null;
    serial: string | null;
    bytes: number;
    sha256: string;
    verified: true;
  };
  dryRun: boolean;
}

function program() {
  return newProgram("iso", `Build the installer image (${ISO_HOST}) and write it to a USB stick`)
    .option("--flake <ref>", "flake to build from (default: the repository)")
    .option("--write <device>", "write the image to this whole removable disk (/dev/sdX)")
    .option("--yes-i-know <device>", "skip the typed confirmation; must name the same device");
}

/** The `nix build` of the image: one build, its result as JSON. */
export function buildArgv(flake: string): string[] {
  return [
    "nix",
    "build",
    "--json",
    "--no-link",
    `${flake}#nixosConfigurations.${ISO_HOST}.config.system.build.isoImage`,
  ];
}

/** The image file inside the build output (`<out>/iso/<name>.iso`); exactly one is expected. */
async function findIso(out: string): Promise<string> {
  const found: string[] = [];
  try {
    for await (const entry of Deno.readDir(`${out}/iso`)) {
      if (entry.isFile && entry.name.endsWith(".iso")) found.push(`${out}/iso/${entry.name}`);
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  if (found.length !== 1) {
    throw new Error(
      `Cannot find the image: ${out}/iso holds ${found.length} .iso files, expected one`,
    );
  }
  return found[0]!;
}

async function buildImage(runner: Runner, flake: string): Promise<string> {
  runner.log(`build ${ISO_HOST} isoImage`);
  const stdout = await runner.text({ argv: buildArgv(flake), mutates: true });
  let out: unknown;
  try {
    out = (JSON.parse(stdout) as { outputs?: { out?: unknown } }[])[0]?.outputs?.out;
  } catch {
    // handled below
  }
  if (typeof out !== "string") {
    throw new Error("Cannot read the build result: nix build printed no output path");
  }
  return await findIso(out);
}

function progressPrinter(runner: Runner): (progress: Progress) => void {
  let lastStep = -1;
  return (progress) => {
    const step = progress.total === 0 ? 10 : Math.floor((progress.done / progress.total) * 10);
    if (step === lastStep) return;
    lastStep = step;
    runner.log(progressLine(progress));
  };
}

function describeDisk(disk: ChosenDisk): string {
  return `${disk.path}: ${disk.model ?? "unknown model"}, serial ${disk.serial ?? "unknown"}, ${
    formatBytes(disk.size)
  }${disk.tran === null ? "" : `, ${disk.tran}`}`;
}

/** --yes-i-know as given, and resolved like --write (a by-id link names its disk). */
interface YesIKnow {
  given: string;
  resolved: string;
}

function checkYesIKnow(disk: ChosenDisk, yesIKnow: YesIKnow): void {
  if (![disk.name, disk.path].includes(yesIKnow.resolved)) {
    throw new UsageError(
      `Cannot write: --yes-i-know "${yesIKnow.given}" does not name the device "${disk.path}"`,
    );
  }
}

async function confirmDisk(disk: ChosenDisk, yesIKnow: YesIKnow | undefined): Promise<void> {
  const names = [disk.name, disk.path];
  if (yesIKnow !== undefined) return checkYesIKnow(disk, yesIKnow);
  const answer = await ask(
    `Everything on ${
      describeDisk(disk)
    } will be erased.\nType the device name (${disk.name}) to write the image: `,
  );
  if (answer === undefined) {
    throw new Error(
      `Cannot write to "${disk.path}": no confirmation (stdin closed); type the name or pass --yes-i-know ${disk.name}`,
    );
  }
  if (!names.includes(answer.trim())) {
    throw new Error(
      `Cannot write to "${disk.path}": "${answer.trim()}" is not "${disk.name}"; nothing written`,
    );
  }
}

async function resolveDevice(runner: Runner, device: string): Promise<string> {
  // /dev/disk/by-id/… names are symlinks to the device lsblk lists. readlink, since Deno reads
  // paths under /dev only with --allow-all.
  if (!device.startsWith("/")) return device;
  const resolved = await runner.text({
    argv: ["readlink", "-f", "--", device],
    okCodes: [1],
    timeoutMs: 10_000,
  });
  return resolved === "" ? device : resolved;
}

/** Runs `iso` with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  return await runMain(async () => {
    const options = program().parse(args, { from: "user" }).opts();
    const runner = runnerFor(options);
    const root = await findRepoRoot(Deno.cwd(), options.repo);
    const flake = options.flake ?? root;
    const report: IsoReport = { dryRun: runner.dryRun };
    const requested = options.write === undefined
      ? undefined
      : await resolveDevice(runner, options.write);
    if (options.yesIKnow !== undefined && requested === undefined) {
      throw new UsageError("--yes-i-know needs --write <device>");
    }
    const yesIKnow = options.yesIKnow === undefined
      ? undefined
      : { given: options.yesIKnow, resolved: await resolveDevice(runner, options.yesIKnow) };

    // Refuse a wrong device before a long build.
    const devicesBefore = requested === undefined
      ? undefined
      : parseLsblk(await runner.text({ argv: LSBLK_ARGV, timeoutMs: 30_000 }));
    if (devicesBefore !== undefined) {
      const early = chooseDisk(devicesBefore, requested!, 0);
      if (early.kind === "refused") throw new Error(refusalMessage(early.refusal));
      if (yesIKnow !== undefined) checkYesIKnow(early.disk, yesIKnow);
    }

    if (runner.dryRun) {
      await runner.run({ argv: buildArgv(flake), mutates: true });
      if (requested !== undefined) {
        runner.log(`would write the image to ${requested}, then read it back`);
      }
      printResult(options.json, report);
      return 0;
    }

    const imagePath = await buildImage(runner, flake);
    const size = (await Deno.stat(imagePath)).size;
    const sha256 = await fileSha256(imagePath);
    report.image = { path: imagePath, size, sha256 };
    if (requested === undefined) {
      printResult(
        options.json,
        report,
        `${imagePath}\n${formatBytes(size)} (${size} bytes)\nsha256 ${sha256}`,
      );
      return 0;
    }

    // Ask lsblk again: the stick may have been pulled or mounted during the build.
    const choice = chooseDisk(
      parseLsblk(await runner.text({ argv: LSBLK_ARGV, timeoutMs: 30_000 })),
      requested,
      size,
    );
    if (choice.kind === "refused") throw new Error(refusalMessage(choice.refusal));
    const disk = choice.disk;
    runner.log(describeDisk(disk));
    await confirmDisk(disk, yesIKnow);
    // The answer may have taken minutes: a desktop may have mounted the stick meanwhile, or it
    // was swapped for another under the same name.
    const now = chooseDisk(
      parseLsblk(await runner.text({ argv: LSBLK_ARGV, timeoutMs: 30_000 })),
      requested,
      size,
    );
    if (now.kind === "refused") throw new Error(refusalMessage(now.refusal));
    if (now.disk.serial !== disk.serial || now.disk.size !== disk.size) {
      throw new Error(
        `Cannot write to "${disk.path}": it changed while you confirmed (now ${
          describeDisk(now.disk)
        }); nothing written, run again`,
      );
    }

    runner.log(`writing ${imagePath} to ${disk.path}`);
    const written = await writeImage(imagePath, disk.path, { onProgress: progressPrinter(runner) });
    if (written.sha256 !== sha256) {
      throw new Error(
        `Cannot write the image: it changed while it was written (sha256 ${written.sha256}, expected ${sha256})`,
      );
    }
    runner.log(`synced; reading ${formatBytes(written.bytes)} back`);
    const check = await readBack(disk.path, written, { onProgress: progressPrinter(runner) });
    switch (check.kind) {
      case "short":
        throw new Error(
          `Verify failed on "${disk.path}": read back ${check.read} of ${check.expected} bytes; the disk is smaller than it claims or failing`,
        );
      case "mismatch":
        throw new Error(
          `Verify failed on "${disk.path}": read back sha256 ${check.sha256}, wrote ${check.expected}; use another stick`,
        );
      case "match":
        break;
    }
    report.written = {
      device: disk.path,
      model: disk.model,
      serial: disk.serial,
      bytes: written.bytes,
      sha256: check.sha256,
      verified: true,
    };
    printResult(
      options.json,
      report,
      `${imagePath}\n${
        formatBytes(size)
      } (${size} bytes)\nsha256 ${sha256}\nwritten to ${disk.path} and verified`,
    );
    return 0;
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
