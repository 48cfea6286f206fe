// Installs NixOS on a new machine with nixos-anywhere, the secrets chain checked before a disk is
// wiped. `deno task install <host> --target <address>`, see `--help`.
import { Option } from "@commander-js/extra-typings";
import { newProgram, positiveIntOf, printResult, runMain, runnerFor } from "../lib/cli.ts";
import { UsageError } from "../lib/errors.ts";
import { pathExists } from "../lib/fs.ts";
import { hostNameProblem } from "../lib/host_name.ts";
import { ask } from "../lib/prompt.ts";
import {
  collectSshOption,
  hostAddressProblem,
  hostFiles,
  portProblem,
  publicKeyBody,
} from "../lib/fleet/mod.ts";
import { findRepoRoot, userPath } from "../lib/repo.ts";
import type { Runner } from "../lib/runner.ts";
import { nixString, readDiskKeys } from "./disk_keys.ts";
import { executeInstall, type InstallReport } from "./execute.ts";
import {
  describePlan,
  finishNewKey,
  type KeySource,
  type Phase,
  PHASES,
  planInstall,
} from "./plan.ts";
import { checkKeyFile, sopsAgeRecipients } from "./secrets_check.ts";
import { sshPublicKeyToAge } from "../lib/sops/age_keys.ts";
import { Scratch, scratchParents } from "./scratch.ts";
import { describeStop, STOP_GRACE_SECONDS } from "./process_group.ts";

function portNumber(value: string): number {
  if (portProblem(value) !== undefined) {
    throw new UsageError(`--port must be a port number (1 to 65535), not "${value}"`);
  }
  return Number(value);
}

function parsePhases(value: string): Phase[] {
  const phases = value.split(",").map((p) => p.trim());
  for (const phase of phases) {
    if (!(PHASES as readonly string[]).includes(phase)) {
      throw new UsageError(`Unknown phase "${phase}": use ${PHASES.join(",")}`);
    }
  }
  return phases as Phase[];
}

function program() {
  return newProgram(
    "install",
    "Install NixOS on a machine booted into the installer, with nixos-anywhere; checks the host key, its secrets and the disk passphrases before a disk is touched",
  )
    .argument("<host>", "the host to install (configurations/<host>/)")
    .requiredOption("--target <address>", "the installer's address (it logs in as root)")
    .option(
      "--port <port>",
      "SSH port of the installer and of the installed host",
      portNumber,
      22,
    )
    .option("--host-key <file>", "the host's private SSH key (mode 0600, yours)")
    .option(
      "--new-host-key [file]",
      "make a new host key here (default ~/.local/share/devops-at-home/host-keys/<host>/ssh_host_ed25519_key), re-key the secrets for it",
    )
    .option("-y, --yes", "do not ask: accept the installer's fingerprint and stage new files")
    .addOption(
      new Option("--build-on <where>", "where nixos-anywhere builds").choices(
        ["local", "remote"] as const,
      ),
    )
    .option("--phases <list>", `nixos-anywhere phases (${PHASES.join(",")})`, parsePhases)
    .option(
      "--ssh-option <Key=Value>",
      "extra ssh option, also given to nixos-anywhere (repeat)",
      collectSshOption,
      [] as string[],
    )
    .option(
      "--connect-timeout <s>",
      "seconds for each SSH connection attempt",
      positiveIntOf("--connect-timeout"),
      10,
    )
    .option(
      "--wait <s>",
      "seconds to wait for the installed host's SSH after the reboot",
      positiveIntOf("--wait"),
      600,
    )
    .option(
      "--install-timeout <s>",
      "seconds nixos-anywhere may run (build, copy, install) before it is stopped",
      positiveIntOf("--install-timeout"),
      4 * 3600,
    );
}

async function indexedHosts(runner: Runner, root: string): Promise<string[]> {
  const index = `${root}/configurations/nixos-configurations.nix`;
  if (!await pathExists(index)) {
    throw new Error(
      "Cannot read the hosts: no configurations/nixos-configurations.nix; run deno task index",
    );
  }
  return JSON.parse(
    await runner.text({
      argv: [
        "nix-instantiate",
        "--eval",
        "--strict",
        "--json",
        "--expr",
        `builtins.attrNames (import ${nixString(index)})`,
      ],
      timeoutMs: 120_000,
    }),
  ) as string[];
}

/** Whether the key in `publicKeyFile` is the host's committed key and its secrets' recipient. */
async function rekeyedFor(root: string, host: string, publicKeyFile: string): Promise<boolean> {
  const paths = hostFiles(host);
  try {
    const made = await Deno.readTextFile(publicKeyFile);
    const committed = await Deno.readTextFile(`${root}/${paths.publicKey}`);
    const secrets = await Deno.readTextFile(`${root}/${paths.secrets}`);
    return publicKeyBody(made) === publicKeyBody(committed) &&
      sopsAgeRecipients(secrets).includes(sshPublicKeyToAge(made));
  } catch {
    return false;
  }
}

function defaultNewKeyPath(host: string): string {
  // The XDG spec says to ignore a relative XDG_DATA_HOME; here it would mean the repository.
  const xdg = Deno.env.get("XDG_DATA_HOME");
  const data = xdg?.startsWith("/") ? xdg : `${Deno.env.get("HOME") ?? "/root"}/.local/share`;
  return userPath(`${data}/devops-at-home/host-keys/${host}/ssh_host_ed25519_key`);
}

/** Whether anything is at `path`, a dangling symlink included (ssh-keygen would follow it). */
async function anyEntry(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, (error) => {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  });
}

/** `path` with symlinks resolved as far as it exists (the rest does not exist yet). */
function resolvedPath(path: string): string {
  const parts = path.split("/");
  for (let end = parts.length; end > 0; end--) {
    try {
      const real = Deno.realPathSync(parts.slice(0, end).join("/") || "/");
      return [real === "/" ? "" : real, ...parts.slice(end)].join("/");
    } catch {
      // not there yet: try its parent
    }
  }
  return path;
}

async function keySource(
  root: string,
  host: string,
  options: { hostKey?: string; newHostKey?: string | true; dryRun?: boolean },
): Promise<KeySource> {
  const pub = `${root}/${hostFiles(host).publicKey}`;
  if (options.hostKey !== undefined && options.newHostKey !== undefined) {
    throw new UsageError("Give --host-key <file> or --new-host-key, not both");
  }
  if (options.hostKey !== undefined) {
    const path = userPath(options.hostKey);
    await checkKeyFile(path);
    if (!await pathExists(pub)) {
      throw new Error(
        `Cannot install host "${host}": no ${
          hostFiles(host).publicKey
        }; give --new-host-key to make one, or add this key: deno task secrets host add ${host} --key-file ${path}.pub`,
      );
    }
    return { kind: "file", path };
  }
  if (options.newHostKey !== undefined) {
    const path = options.newHostKey === true
      ? defaultNewKeyPath(host)
      : userPath(options.newHostKey);
    const [where, repo] = [resolvedPath(path), resolvedPath(root)];
    if (where === repo || where.startsWith(`${repo}/`)) {
      throw new UsageError(
        `Cannot keep the new host key in the repository ("${path}"): name a file outside it`,
      );
    }
    const hostHasKey = await pathExists(pub);
    if (await anyEntry(path) || await anyEntry(`${path}.pub`)) {
      // An earlier run may have made it and stopped before re-keying (failed, interrupted).
      const rekeyed = await rekeyedFor(root, host, `${path}.pub`);
      throw new Error(
        `Cannot make a new host key at "${path}": a file is there (never overwritten); ${
          rekeyed
            ? `use --host-key ${path}`
            : `if it is the one an earlier run made, ${finishNewKey(host, hostHasKey, path)}`
        }`,
      );
    }
    return { kind: "new", path, hostHasKey };
  }
  if (options.dryRun) {
    if (!await pathExists(pub)) {
      throw new Error(
        `Cannot install host "${host}": no ${
          hostFiles(host).publicKey
        }; give --new-host-key to make one`,
      );
    }
    return { kind: "none" };
  }
  throw new UsageError(
    "Give the host's private key: --host-key <file>, or --new-host-key to make one",
  );
}

function summary(report: InstallReport): string {
  const lines = [`${report.host} at ${report.address}: ${report.result}`];
  if (report.hostKey) {
    lines.push(
      `host key ${report.hostKey.fingerprint}${
        report.hostKey.created ? ` (new, kept at ${report.hostKey.path})` : ""
      }`,
    );
  }
  if (report.installerFingerprint) lines.push(`installer key ${report.installerFingerprint}`);
  if (report.diskKeys.length > 0) {
    lines.push(`disk passphrases sent to ${report.diskKeys.join(", ")}`);
  }
  if (report.toplevel) lines.push(`system ${report.toplevel}`);
  if (report.secrets) {
    lines.push(
      `secrets ${report.secrets.length === 0 ? "none declared" : report.secrets.join(", ")}`,
    );
  }
  return lines.join("\n");
}

/** Runs `install` with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  return await runMain(async () => {
    const parsed = program().parse(args, { from: "user" });
    const options = parsed.opts();
    const host = parsed.args[0]!;
    const problem = hostNameProblem(host);
    if (problem !== undefined) throw new UsageError(`Cannot install host "${host}": ${problem}`);
    const badTarget = hostAddressProblem(options.target);
    if (badTarget !== undefined) {
      throw new UsageError(`Cannot install to --target "${options.target}": ${badTarget}`);
    }
    const runner = runnerFor(options);
    const root = await findRepoRoot(Deno.cwd(), options.repo);

    if (!(await indexedHosts(runner, root)).includes(host)) {
      throw new Error(
        `Cannot install host "${host}": it is not in configurations/nixos-configurations.nix`,
      );
    }
    const paths = hostFiles(host);
    if (!await pathExists(`${root}/${paths.disko}`)) {
      throw new Error(
        `Cannot install host "${host}": no ${paths.disko}; nixos-anywhere partitions the disks from it, so add one first`,
      );
    }
    const key = await keySource(root, host, { ...options, dryRun: runner.dryRun });
    const diskKeys = await readDiskKeys(runner, `${root}/${paths.disko}`);
    const plan = planInstall({
      host,
      address: options.target,
      port: options.port,
      key,
      diskKeyPaths: diskKeys.map((k) => k.path),
      zfsPassphrasePaths: diskKeys.filter((k) => k.zfsPassphrase).map((k) => k.path),
      stage: options.yes ? "yes" : "ask",
      confirmInstaller: !options.yes,
      ...(options.buildOn === undefined ? {} : { buildOn: options.buildOn }),
      ...(options.phases === undefined ? {} : { phases: options.phases }),
      sshOptions: options.sshOption,
      connectTimeout: options.connectTimeout,
      waitSeconds: options.wait,
      installTimeoutSeconds: options.installTimeout,
    });

    const scratch = new Scratch(
      scratchParents({ XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR") }, Deno.uid()),
      root,
    );
    scratch.onOrphanStopped = ({ pgid, outcome }) =>
      runner.log(
        `   stopped the nixos-anywhere (process group ${pgid}) that a killed install of ${host} left running: ${
          describeStop(outcome)
        }`,
      );
    // An interrupt must not leave a passphrase or a key copy behind, nor nixos-anywhere running:
    // stop its whole process group, remove them, then exit. SIGHUP too: a closed terminal or ssh
    // session would otherwise end the tool uncleaned.
    const signals = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
    let interrupted: Promise<void> | undefined;
    const listeners = Object.entries(signals).map(([signal, code]) => {
      const listener = () => {
        interrupted ??= (async () => {
          const stopping = scratch.stopChild();
          if (stopping !== undefined) {
            console.error(
              `${signal}: stopping nixos-anywhere and its processes (SIGTERM, SIGKILL after ${STOP_GRACE_SECONDS} s)`,
            );
          }
          const outcome = await stopping;
          scratch.removeNow();
          console.error(
            `error: interrupted; ${
              outcome === undefined ? "" : `nixos-anywhere was stopped: ${describeStop(outcome)}; `
            }the temporary secrets were removed`,
          );
          Deno.exit(code);
        })();
      };
      Deno.addSignalListener(signal as Deno.Signal, listener);
      return [signal as Deno.Signal, listener] as const;
    });
    try {
      if (!runner.dryRun) await scratch.lockHost(host);
      if (runner.dryRun) runner.log(describePlan(plan)[0]!);
      const report = await executeInstall(plan, {
        runner,
        root,
        scratch,
        ask,
        sshOptions: options.sshOption,
        connectTimeout: options.connectTimeout,
      });
      if (runner.dryRun) runner.log(describePlan(plan).at(-1)!);
      printResult(options.json, report, summary(report));
      return 0;
    } finally {
      // The interrupt's own clean-up ends the process with its exit code.
      if (interrupted !== undefined) await interrupted;
      scratch.removeNow();
      for (const [signal, listener] of listeners) Deno.removeSignalListener(signal, listener);
    }
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
