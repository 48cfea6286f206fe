// Before the demo starts anything: it runs as root, with every program it needs on PATH.
import { CommandError } from "../lib/errors.ts";
import { createProcessRunner } from "../lib/process_runner.ts";

/** The programs the demo runs besides deno; sshd at the path the test hosts start. */
export const DEMO_PROGRAMS = [
  "nix",
  "ssh",
  "ssh-keygen",
  "unshare",
  "nsenter",
  "setpriv",
  "setsid",
  "mount",
  "ip",
  "nft",
] as const;

const SSHD = "/usr/sbin/sshd";

/** Stops with a one-line error unless this is root with every program the demo needs. */
export async function preflight(): Promise<void> {
  if (Deno.uid() !== 0) {
    throw new Error(
      "deno task demo needs root: its test hosts run sshd in mount and network namespaces of their own; run it as root (sudo deno task demo)",
    );
  }
  const missing: string[] = [];
  let nixPath: string | undefined;
  for (const name of DEMO_PROGRAMS) {
    const found = await findOnPath(name);
    if (found === undefined) missing.push(name);
    if (name === "nix") nixPath = found;
  }
  if (!(await isExecutable(SSHD))) missing.push(SSHD);
  if (missing.length > 0) {
    throw new Error(
      `Cannot run the demo: ${
        missing.join(", ")
      } not installed; run tools/testing/install_test_programs.sh as root`,
    );
  }
  if (nixPath !== undefined && nixPath.startsWith("/nix/store/")) {
    throw new Error(
      `Cannot run the demo: nix (${nixPath}) lives in /nix/store, which each test host replaces with its own; install Debian's nix-bin (tools/testing/install_test_programs.sh)`,
    );
  }
  // Root without CAP_SYS_ADMIN (a container, a dropped capability) cannot make namespaces.
  try {
    // deno itself is the one program sure to be there to run inside.
    await createProcessRunner().run({
      argv: ["unshare", "--net", "--mount", "--", Deno.execPath(), "--version"],
      discardStdout: true,
    });
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    const cause = error.stderrTail.split("\n").at(-1) ?? "";
    throw new Error(
      `Cannot make namespaces for the demo: ${cause}; it needs root with CAP_SYS_ADMIN (not a restricted container)`,
    );
  }
}

async function isExecutable(path: string): Promise<boolean> {
  const info = await Deno.stat(path).catch(() => undefined);
  return info !== undefined && info.isFile && ((info.mode ?? 0) & 0o111) !== 0;
}

async function findOnPath(name: string): Promise<string | undefined> {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").filter(Boolean)) {
    if (await isExecutable(`${dir}/${name}`)) return await Deno.realPath(`${dir}/${name}`);
  }
  return undefined;
}
