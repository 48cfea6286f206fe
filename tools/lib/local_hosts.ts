// Local hosts: real sshd servers on 127.0.0.N:22, each in its own mount namespace with its own
// /nix, /run and /root, that can be started, stopped, killed, frozen and cut off. A product
// module: `deno task demo` deploys to them; the tests reach them through
// tools/testing/test_hosts.ts (with the test-only helpers), and the systemd test hosts
// (tools/testing/systemd_hosts.ts) share their address leases, cgroups, firewall and SSH. They
// run as root (mount namespaces, port 22, nft).
import { CommandError } from "./errors.ts";
import { type StartedProcess, startProcess } from "./process_runner.ts";
import { formatCommand } from "./quote.ts";
import { type CommandResult, createRunner } from "./runner.ts";

/** Options for {@linkcode startTestHosts}. */
export interface TestHostsOptions {
  /** Host names, one per host (default `host1`, `host2`, …). */
  names?: string[];
}

/** Options for {@linkcode TestHost.ssh}. */
export interface SshOptions {
  /** Exit codes that are data, not failures (ssh itself fails with 255). */
  okCodes?: readonly number[];
  stdin?: string | Uint8Array;
  /** Seconds for ssh's ConnectTimeout (default 5). */
  connectTimeout?: number;
  /** Milliseconds before the ssh client is killed. */
  timeoutMs?: number;
}

/** One test host: a real sshd on its own loopback address with its own /nix and /run. */
export interface TestHost {
  readonly name: string;
  /** `127.0.0.N`, N ≥ 2, unique among all test hosts on this machine while it lives. */
  readonly address: string;
  readonly port: 22;
  readonly user: "root";
  /** The host key: `ssh-ed25519 AAAA… <name>`. */
  readonly hostPublicKey: string;
  /** The host's folder on the outer filesystem. */
  readonly dir: string;
  /** The host's `/nix` seen from outside: its own store, database and profiles. */
  readonly nixDir: string;
  /** The host's `/run` seen from outside (emptied at each boot). */
  readonly runDir: string;
  /** The host's `/root` (root's home, empty at first: no shell start-up files). */
  readonly homeDir: string;
  /** sshd's log file. */
  readonly logFile: string;
  /** `ssh-ng://root@127.0.0.N?ssh-key=…`; use with {@linkcode TestHosts.nixSshEnv}. */
  readonly storeUrl: string;
  /** `root@127.0.0.N`. */
  readonly sshTarget: string;
  /** True while sshd listens. */
  readonly running: boolean;
  /** The argv that runs `command` on the host (an array is shell-quoted word by word). */
  sshArgv(command: string | readonly string[], options?: { connectTimeout?: number }): string[];
  /** Runs `command` on the host over SSH with the pinned host key; throws CommandError on failure. */
  ssh(command: string | readonly string[], options?: SshOptions): Promise<CommandResult>;
  /** Whether `ssh true` succeeds within `timeoutSeconds` (default 2). */
  canConnect(timeoutSeconds?: number): Promise<boolean>;
  /**
   * Starts sshd. After {@linkcode TestHost.stop} it re-enters the same namespace; after
   * {@linkcode TestHost.kill} it boots: a new namespace, an empty /run, and /run/current-system
   * pointing where the host's /nix/var/nix/profiles/system points.
   */
  start(): Promise<void>;
  /** SIGTERMs the sshd listener: new connections are refused; sessions and their processes live on. */
  stop(): Promise<void>;
  /** SIGKILLs every process in the host's mount namespace (power loss). */
  kill(): Promise<void>;
  /** SIGSTOPs every process in the host's mount namespace. */
  freeze(): Promise<void>;
  /** SIGCONTs every process in the host's mount namespace. */
  thaw(): Promise<void>;
  /** Drops all TCP traffic to and from 127.0.0.N:22 (an nft table of its own). */
  cutOff(): Promise<void>;
  /** Removes the drop of {@linkcode TestHost.cutOff}. */
  restore(): Promise<void>;
  /** The pids of every process in the host's mount namespace, its init (`sleep`) included. */
  processes(): Promise<number[]>;
  /** The outer path of an absolute path under the host's /nix, /run or /root. */
  hostPath(path: string): string;
  /** Follows symlinks as the host sees them: `/nix/var/nix/profiles/system` → `/nix/store/…`. */
  resolve(path: string): Promise<string>;
}

/** A set of test hosts sharing one client key; dispose it to stop them and remove everything. */
export interface TestHosts extends AsyncDisposable {
  readonly hosts: readonly TestHost[];
  /** The harness folder (keys, known_hosts, ssh_config, hosts/<name>/). */
  readonly dir: string;
  /** The client's private key (ed25519, no passphrase), authorized for root on every host. */
  readonly clientKey: string;
  readonly clientPublicKey: string;
  /** known_hosts with every host's key: `127.0.0.N ssh-ed25519 AAAA…`. */
  readonly knownHostsFile: string;
  /** An ssh_config that pins the known_hosts and the client key: `ssh -F <file> root@…`. */
  readonly sshConfigFile: string;
  /** Environment for nix's ssh: `NIX_SSHOPTS=-F <sshConfigFile>`. */
  readonly nixSshEnv: { NIX_SSHOPTS: string };
  /** The host with this name. */
  host(name: string): TestHost;
}

const LOCK_DIR = "/tmp/devops-test-hosts";
/** Where harness folders go: beside the locks that name them. */
const HARNESS_PARENT = "/tmp";
const SSHD = "/usr/sbin/sshd";
const runner = createRunner({ write: () => {} });

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An address lock: held (flock) for the harness' lifetime, released by the kernel on exit. */
export interface AddressLease {
  address: string;
  index: number;
  file: Deno.FsFile;
}

function portFree(address: string): boolean {
  try {
    const listener = Deno.listen({ hostname: address, port: 22 });
    listener.close();
    return true;
  } catch (error) {
    // Anything else (no permission to listen, not root) must not read as "address taken".
    if (error instanceof Deno.errors.AddrInUse || error instanceof Deno.errors.AddrNotAvailable) {
      return false;
    }
    throw error;
  }
}

/**
 * Leases `count` free 127.0.0.N addresses for the harness folder `owner` (a folder named
 * `devops-hosts-…`, which a later owner reaps should this process die). Shared by every kind of
 * test host, so parallel test runs never collide.
 */
export async function leaseAddresses(count: number, owner: string): Promise<AddressLease[]> {
  await Deno.mkdir(LOCK_DIR, { recursive: true });
  const leases: AddressLease[] = [];
  for (let index = 2; index <= 254 && leases.length < count; index++) {
    const address = `127.0.0.${index}`;
    const file = await Deno.open(`${LOCK_DIR}/${address}.lock`, {
      read: true,
      write: true,
      create: true,
    });
    if (!(await file.tryLock(true))) {
      file.close();
      continue;
    }
    // We hold the lock, so a previous owner is dead: remove what it may have left behind.
    await reapLease(file, index);
    if (!portFree(address)) {
      file.close();
      continue;
    }
    await file.truncate(0);
    await file.seek(0, Deno.SeekMode.Start);
    await file.write(new TextEncoder().encode(`${Deno.pid} ${owner}\n`));
    leases.push({ address, index, file });
  }
  if (leases.length < count) {
    for (const lease of leases) lease.file.close();
    throw new Error(`Cannot start ${count} test hosts: no free loopback address left`);
  }
  return leases;
}

/** The harness folder a lock file names (`<pid> <dir>`), if any. */
async function previousOwnerDir(file: Deno.FsFile): Promise<string | undefined> {
  await file.seek(0, Deno.SeekMode.Start);
  const bytes = new Uint8Array(4096);
  const read = await file.read(bytes);
  const text = new TextDecoder().decode(bytes.subarray(0, read ?? 0));
  const dir = text.trim().split(" ")[1];
  return dir !== undefined && /^\/.+\/devops-hosts-[^/]+$/.test(dir) ? dir : undefined;
}

/** Cleans up after a dead owner of a locked address: firewall table, processes, folder. */
async function reapLease(file: Deno.FsFile, index: number): Promise<void> {
  await deleteFirewallTable(index);
  await reapHostCgroups(index);
  const dir = await previousOwnerDir(file);
  if (dir !== undefined) await reapHarness(dir);
}

/**
 * Kills every process whose /nix is bind-mounted from a folder under `prefix` (the mount
 * namespace of a host there), whether or not the host's init still holds the namespace.
 */
async function killProcessesMounting(prefix: string): Promise<number[]> {
  const killed = new Set<number>();
  for (let round = 0; round < 100; round++) {
    const pids: number[] = [];
    for await (const entry of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      const mounts = await Deno.readTextFile(`/proc/${entry.name}/mountinfo`).catch(() => "");
      const ours = mounts.split("\n").some((line) => {
        const fields = line.split(" ");
        return fields[4] === "/nix" && (fields[3] ?? "").startsWith(prefix);
      });
      if (ours) pids.push(Number(entry.name));
    }
    if (pids.length === 0) break;
    for (const pid of pids) {
      signal(pid, "SIGKILL");
      killed.add(pid);
    }
    await sleep(5);
  }
  return [...killed];
}

/** Kills every process of a host of the harness at `dir`, then removes the folder. */
export async function reapHarness(dir: string): Promise<number[]> {
  const killed = await killProcessesMounting(`${dir}/hosts/`);
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  return killed;
}

/**
 * Cleans up after test-host harnesses whose process died without disposing them (a crash, a
 * killed test run): their processes, firewall tables and folders. Returns the pids it killed.
 */
export async function reapStaleTestHosts(): Promise<number[]> {
  const killed: number[] = [];
  const entries = await Array.fromAsync(Deno.readDir(LOCK_DIR)).catch(() => []);
  for (const entry of entries) {
    const match = /^127\.0\.0\.(\d+)\.lock$/.exec(entry.name);
    if (match === null) continue;
    const file = await Deno.open(`${LOCK_DIR}/${entry.name}`, { read: true, write: true });
    try {
      if (!(await file.tryLock(true))) continue;
      await deleteFirewallTable(Number(match[1]));
      await reapHostCgroups(Number(match[1]));
      const dir = await previousOwnerDir(file);
      if (dir !== undefined) killed.push(...await reapHarness(dir));
      await file.truncate(0);
    } finally {
      file.close();
    }
  }
  return killed;
}

/** The cgroup and machine name of the systemd test host on 127.0.0.`index` (tools/testing/systemd_hosts.ts). */
export function hostCgroupName(index: number): string {
  return `devops-test-host-${index}`;
}

/**
 * The cgroup folders of the systemd test host on 127.0.0.`index`: the unified (v2) one first,
 * where it is frozen and killed, then, on a hybrid machine, its `name=systemd` and freezer ones
 * (nspawn and the container's systemd expect all of them).
 */
export function hostCgroups(index: number): { unified: string; all: string[] } {
  const name = hostCgroupName(index);
  let hybrid = false;
  try {
    hybrid = Deno.statSync("/sys/fs/cgroup/unified").isDirectory;
  } catch {
    // a pure cgroup v2 machine
  }
  if (!hybrid) return { unified: `/sys/fs/cgroup/${name}`, all: [`/sys/fs/cgroup/${name}`] };
  const all = ["unified", "systemd", "freezer"].map((h) => `/sys/fs/cgroup/${h}/${name}`);
  return { unified: all[0]!, all };
}

/** Kills every process in the cgroup tree at `unified` (v2) and waits until it is empty. */
export async function killCgroup(unified: string): Promise<void> {
  if (!(await Deno.stat(unified).then(() => true, () => false))) return;
  await Deno.writeTextFile(`${unified}/cgroup.freeze`, "0").catch(() => {});
  await Deno.writeTextFile(`${unified}/cgroup.kill`, "1").catch(() => {});
  for (let round = 0; round < 2000; round++) {
    const events = await Deno.readTextFile(`${unified}/cgroup.events`).catch(() => "");
    if (!/^populated 1$/m.test(events)) return;
    await sleep(5);
  }
  throw new Error(`Cannot empty cgroup "${unified}": processes live on after cgroup.kill`);
}

/**
 * Kills every process in the cgroups of the host on 127.0.0.`index` (a systemd test host:
 * nspawn and its container) and removes the cgroups and nspawn's propagate folder. Nothing to
 * do for light hosts, which have no cgroup.
 */
export async function reapHostCgroups(index: number): Promise<void> {
  const cgroups = hostCgroups(index);
  await killCgroup(cgroups.unified);
  for (const path of cgroups.all) await removeCgroupTree(path);
  await Deno.remove(`/run/systemd/nspawn/propagate/${hostCgroupName(index)}`, { recursive: true })
    .catch(() => {});
}

/** Removes a cgroup and its children, deepest first (a cgroup with processes stays). */
export async function removeCgroupTree(path: string): Promise<void> {
  const children = await Array.fromAsync(Deno.readDir(path)).catch(() => []);
  for (const child of children) {
    if (child.isDirectory) await removeCgroupTree(`${path}/${child.name}`);
  }
  await Deno.remove(path).catch(() => {});
}

/** The nft table of the host on 127.0.0.`index` while it is cut off. */
export function firewallTable(index: number): string {
  return `devops_test_host_${index}`;
}

/** Drops all TCP traffic to and from `address`:22 (the nft table {@linkcode firewallTable}). */
export async function cutOffAddress(index: number, address: string): Promise<void> {
  const table = firewallTable(index);
  const rules = `table ip ${table} {
  chain input {
    type filter hook input priority -10; policy accept;
    ip daddr ${address} tcp dport 22 drop
    ip saddr ${address} tcp sport 22 drop
  }
}
`;
  await deleteFirewallTable(index);
  await runner.run({ argv: ["nft", "-f", "-"], stdin: rules });
}

/** Removes the nft table of {@linkcode cutOffAddress}, if any. */
export async function deleteFirewallTable(index: number): Promise<void> {
  const result = await runner.run({
    argv: ["nft", "delete", "table", "ip", firewallTable(index)],
    okCodes: [1],
  });
  if (result.code !== 0 && !result.stderr.includes("No such file or directory")) {
    throw new Error(`Cannot remove firewall table "${firewallTable(index)}": ${result.stderr}`);
  }
}

/** Whether `address:22` is in LISTEN state (read from /proc, so no connection is made). */
export async function listening(address: string): Promise<boolean> {
  const hex = address.split(".").map((part) => Number(part).toString(16).padStart(2, "0"))
    .reverse().join("").toUpperCase();
  const wanted = `${hex}:0016`;
  const table = await Deno.readTextFile("/proc/net/tcp");
  return table.split("\n").some((line) => {
    const fields = line.trim().split(/\s+/);
    return fields[1] === wanted && fields[3] === "0A";
  });
}

async function mountNamespaceOf(pid: number): Promise<string | undefined> {
  try {
    return await Deno.readLink(`/proc/${pid}/ns/mnt`);
  } catch (error) {
    // Deno reads /proc/<pid>/ns only with --allow-all; say so rather than "no namespace".
    if (error instanceof Deno.errors.NotCapable) throw error;
    return undefined;
  }
}

async function pidsInNamespaces(namespaces: ReadonlySet<string>): Promise<number[]> {
  if (namespaces.size === 0) return [];
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const pid = Number(entry.name);
    const ns = await mountNamespaceOf(pid);
    if (ns !== undefined && namespaces.has(ns)) pids.push(pid);
  }
  return pids.sort((a, b) => a - b);
}

function signal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch {
    // Gone already.
  }
}

async function tailOf(path: string, lines = 10): Promise<string> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}

/** A new ed25519 key pair at `path` (no passphrase); returns the public key line. */
export async function keygen(path: string, comment: string): Promise<string> {
  await runner.run({
    argv: ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path],
  });
  return (await Deno.readTextFile(`${path}.pub`)).trim();
}

function sshdConfig(dir: string, address: string): string {
  return [
    "# sshd_config of a test host (tools/testing/test_hosts.ts).",
    `ListenAddress ${address}:22`,
    `HostKey ${dir}/ssh_host_ed25519_key`,
    `PidFile ${dir}/sshd.pid`,
    `AuthorizedKeysFile ${dir}/authorized_keys`,
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    // No PAM: root logs in with a key and needs no PAM session inside the namespace.
    "UsePAM no",
    // The test folders live under /tmp, which StrictModes would reject.
    "StrictModes no",
    "PrintMotd no",
    "PrintLastLog no",
    "X11Forwarding no",
    "AllowAgentForwarding no",
    // Deploy tests open many connections at once.
    "MaxStartups 100",
    "MaxSessions 100",
    "LogLevel VERBOSE",
    "Subsystem sftp internal-sftp",
    "",
  ].join("\n");
}

// The host's init: runs in the new mount namespace, mounts the host's /nix, /run and /root,
// boots like NixOS (the system profile is the running system), then holds the namespace.
const BOOT_SCRIPT = `set -e
exec 2>>"$4"
mount --bind "$1" /nix
mount --bind "$2" /run
mount --bind "$5" /root
if [ -e /nix/var/nix/profiles/system ]; then
  system=$(readlink -f /nix/var/nix/profiles/system)
  ln -sfn "$system" /run/current-system
  ln -sfn "$system" /run/booted-system
fi
: > "$3"
exec sleep infinity
`;

/** A child process and its exit. */
interface Spawned {
  child: StartedProcess;
  exited: Promise<Deno.CommandStatus>;
  done: boolean;
}

/** Spawns `command`; it gets SIGKILL should this process die before it is cleaned up. */
function spawn(command: string, args: string[]): Spawned {
  // A long-lived host process (sshd), stopped by dispose(): started, not run to completion.
  const child = startProcess(["setpriv", "--pdeathsig", "KILL", "--", command, ...args], {
    stdin: "null",
    stdout: "null",
    stderr: "null",
  });
  const spawned: Spawned = { child, exited: child.status, done: false };
  spawned.exited.then(() => (spawned.done = true));
  return spawned;
}

async function waitFor(
  what: string,
  spawned: Spawned,
  ready: () => Promise<boolean>,
): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await ready())) {
    if (spawned.done || Date.now() > deadline) {
      signal(spawned.child.pid, "SIGKILL");
      await spawned.exited;
      throw new Error(`${what}: ${spawned.done ? "it exited" : "it hung for 10 s"}`);
    }
    await sleep(5);
  }
}

/** A harness host as its SSH sees it: `root@<address>` through the harness' ssh_config. */
export interface HarnessSshHost {
  readonly sshTarget: string;
  readonly harness: { readonly sshConfigFile: string };
}

/** The argv that runs `command` on `host` (an array is shell-quoted word by word). */
export function harnessSshArgv(
  host: HarnessSshHost,
  command: string | readonly string[],
  options: { connectTimeout?: number } = {},
): string[] {
  const line = typeof command === "string" ? command : formatCommand(command);
  return [
    "ssh",
    "-F",
    host.harness.sshConfigFile,
    "-o",
    `ConnectTimeout=${options.connectTimeout ?? 5}`,
    "-p",
    "22",
    host.sshTarget,
    "--",
    line,
  ];
}

/** Runs `command` on `host` over SSH with the pinned host key; throws CommandError on failure. */
export function harnessSsh(
  host: HarnessSshHost,
  command: string | readonly string[],
  options: SshOptions = {},
): Promise<CommandResult> {
  const argv = harnessSshArgv(
    host,
    command,
    options.connectTimeout === undefined ? {} : { connectTimeout: options.connectTimeout },
  );
  return runner.run({
    argv,
    ...(options.okCodes === undefined ? {} : { okCodes: options.okCodes }),
    ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  });
}

/** Whether `ssh true` on `host` succeeds within `timeoutSeconds`. */
export async function harnessCanConnect(
  host: HarnessSshHost,
  timeoutSeconds: number,
): Promise<boolean> {
  const result = await runner.run({
    argv: harnessSshArgv(host, "true", { connectTimeout: timeoutSeconds }),
    okCodes: [255],
    timeoutMs: (timeoutSeconds + 2) * 1000,
  }).catch((error) => {
    if (error instanceof CommandError) return { code: error.code };
    throw error;
  });
  return result.code === 0;
}

/**
 * Follows symlinks as `host` sees them (`/nix/var/nix/profiles/system` → `/nix/store/…`), each
 * mapped to the outer path by `host.hostPath`; `what` names the harness in an error.
 */
export async function resolveOnHost(
  host: { readonly name: string; hostPath(path: string): string },
  path: string,
  what: string,
): Promise<string> {
  let current = path;
  for (let hop = 0; hop < 40; hop++) {
    const info = await Deno.lstat(host.hostPath(current)).catch((error) => {
      // A dangling link resolves to its target, as `readlink -m` would.
      if (error instanceof Deno.errors.NotFound && hop > 0) return undefined;
      throw error;
    });
    if (info === undefined || !info.isSymlink) return current;
    const target = await Deno.readLink(host.hostPath(current));
    current = target.startsWith("/")
      ? target
      : `${current.slice(0, current.lastIndexOf("/"))}/${target}`;
    // Store paths are the same on every host: stop there instead of mapping them again.
    if (/^\/nix\/store\/[^/]+$/.test(current)) return current;
  }
  throw new Error(`Cannot resolve "${path}" on ${what} "${host.name}": too many symlinks`);
}

class Host implements TestHost {
  readonly port = 22 as const;
  readonly user = "root" as const;
  readonly nixDir: string;
  readonly runDir: string;
  readonly homeDir: string;
  readonly logFile: string;
  readonly storeUrl: string;
  readonly sshTarget: string;
  hostPublicKey = "";
  /** The host's init and its mount namespace (`mnt:[…]`); the namespace lives while it does. */
  #init: (Spawned & { namespace: string }) | undefined;
  #sshd: Spawned | undefined;

  constructor(
    readonly name: string,
    readonly address: string,
    readonly dir: string,
    readonly index: number,
    readonly harness: { clientKey: string; sshConfigFile: string },
  ) {
    this.nixDir = `${dir}/nix`;
    this.runDir = `${dir}/run`;
    this.homeDir = `${dir}/root`;
    this.logFile = `${dir}/sshd.log`;
    this.sshTarget = `root@${address}`;
    this.storeUrl = `ssh-ng://root@${address}?ssh-key=${harness.clientKey}`;
  }

  get running(): boolean {
    return this.#sshd !== undefined && !this.#sshd.done;
  }

  async prepare(clientPublicKey: string): Promise<void> {
    await Deno.mkdir(`${this.nixDir}/store`, { recursive: true });
    await Deno.mkdir(`${this.nixDir}/var/nix/profiles`, { recursive: true });
    await Deno.mkdir(this.homeDir, { mode: 0o700 });
    this.hostPublicKey = await keygen(`${this.dir}/ssh_host_ed25519_key`, this.name);
    await Deno.writeTextFile(`${this.dir}/authorized_keys`, `${clientPublicKey}\n`);
    await Deno.writeTextFile(`${this.dir}/sshd_config`, sshdConfig(this.dir, this.address));
  }

  sshArgv(command: string | readonly string[], options: { connectTimeout?: number } = {}) {
    return harnessSshArgv(this, command, options);
  }

  ssh(command: string | readonly string[], options: SshOptions = {}): Promise<CommandResult> {
    return harnessSsh(this, command, options);
  }

  canConnect(timeoutSeconds = 2): Promise<boolean> {
    return harnessCanConnect(this, timeoutSeconds);
  }

  async start(): Promise<void> {
    if (this.running) return;
    if (this.#init === undefined || this.#init.done) await this.#boot();
    const init = this.#init!;
    const sshd = spawn("nsenter", [
      "--target",
      String(init.child.pid),
      "--mount",
      "--",
      SSHD,
      "-D",
      "-f",
      `${this.dir}/sshd_config`,
      "-E",
      this.logFile,
    ]);
    await waitFor(
      `Cannot start sshd of test host "${this.name}" on ${this.address}`,
      sshd,
      () => listening(this.address),
    ).catch(async (error) => {
      throw new Error(`${error.message}: ${await tailOf(this.logFile)}`);
    });
    this.#sshd = sshd;
  }

  /** A new mount namespace with the host's /nix and an empty /run, held by the host's init. */
  async #boot(): Promise<void> {
    await Deno.remove(this.runDir, { recursive: true }).catch(() => {});
    await Deno.mkdir(`${this.runDir}/sshd`, { recursive: true });
    // sshd's privilege separation folder must not be group or world writable.
    await Deno.chmod(`${this.runDir}/sshd`, 0o755);
    const readyFile = `${this.dir}/booted`;
    await Deno.remove(readyFile).catch(() => {});
    const args = ["--mount", "--propagation", "private", "/bin/sh", "-c", BOOT_SCRIPT, "init"];
    const init = spawn(
      "unshare",
      args.concat(this.nixDir, this.runDir, readyFile, this.logFile, this.homeDir),
    );
    await waitFor(
      `Cannot boot test host "${this.name}"`,
      init,
      () => Deno.stat(readyFile).then(() => true, () => false),
    ).catch(async (error) => {
      throw new Error(`${error.message}: ${await tailOf(this.logFile)}`);
    });
    const namespace = await mountNamespaceOf(init.child.pid);
    if (namespace === undefined || namespace === await mountNamespaceOf(Deno.pid)) {
      signal(init.child.pid, "SIGKILL");
      await init.exited;
      throw new Error(`Cannot boot test host "${this.name}": no mount namespace of its own`);
    }
    this.#init = Object.assign(init, { namespace });
  }

  async stop(): Promise<void> {
    const sshd = this.#sshd;
    if (sshd === undefined) return;
    signal(sshd.child.pid, "SIGTERM");
    // A frozen sshd only acts on the SIGTERM once it runs again.
    signal(sshd.child.pid, "SIGCONT");
    await sshd.exited;
    this.#sshd = undefined;
  }

  async kill(): Promise<void> {
    const init = this.#init;
    if (init !== undefined) {
      // An init that died on its own (a Ctrl-C to the whole process group reaches it) leaves
      // the namespace's other processes, sshd among them, without it: find them by their /nix.
      if (init.done) await killProcessesMounting(`${this.dir}/`);
      // While init lives the namespace is this host's; kill everything else, then init (which
      // never forks), so no pid of a later namespace with a reused id can be hit.
      const namespaces = new Set([init.namespace]);
      const deadline = Date.now() + 10_000;
      while (!init.done) {
        const others = (await pidsInNamespaces(namespaces)).filter((p) => p !== init.child.pid);
        if (others.length === 0) break;
        if (Date.now() > deadline) {
          throw new Error(
            `Cannot kill test host "${this.name}": pids ${others.join(", ")} live on`,
          );
        }
        for (const pid of others) signal(pid, "SIGKILL");
        await sleep(2);
      }
      signal(init.child.pid, "SIGKILL");
      await init.exited;
      this.#init = undefined;
    }
    if (this.#sshd !== undefined) await this.#sshd.exited;
    this.#sshd = undefined;
  }

  async freeze(): Promise<void> {
    // Repeat until every process is stopped, so a child forked meanwhile is caught too.
    for (let round = 0; round < 100; round++) {
      const pids = await this.processes();
      const states = await Promise.all(pids.map((pid) => processState(pid)));
      const running = pids.filter((_, i) => states[i] !== undefined && states[i] !== "T");
      if (running.length === 0) return;
      for (const pid of running) signal(pid, "SIGSTOP");
      await sleep(2);
    }
    throw new Error(`Cannot freeze test host "${this.name}": processes keep running`);
  }

  async thaw(): Promise<void> {
    for (const pid of await this.processes()) signal(pid, "SIGCONT");
  }

  async cutOff(): Promise<void> {
    await cutOffAddress(this.index, this.address);
  }

  async restore(): Promise<void> {
    await deleteFirewallTable(this.index);
  }

  async processes(): Promise<number[]> {
    const init = this.#init;
    if (init === undefined || init.done) return [];
    return await pidsInNamespaces(new Set([init.namespace]));
  }

  hostPath(path: string): string {
    if (path === "/nix" || path.startsWith("/nix/")) return this.nixDir + path.slice(4);
    if (path === "/run" || path.startsWith("/run/")) return this.runDir + path.slice(4);
    if (path === "/root" || path.startsWith("/root/")) return this.homeDir + path.slice(5);
    throw new Error(
      `Cannot map "${path}" of test host "${this.name}": not under /nix, /run or /root`,
    );
  }

  resolve(path: string): Promise<string> {
    return resolveOnHost(this, path, "test host");
  }

  /** Kills everything, removes the firewall table; safe to call more than once. */
  async cleanup(): Promise<void> {
    await this.kill();
    await this.restore();
  }
}

/** The state letter of a process in /proc (R, S, T stopped, Z zombie), or undefined when gone. */
export async function processState(pid: number): Promise<string | undefined> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
  } catch {
    return undefined;
  }
}

/** A harness host as its harness' files see it. */
interface HarnessHost {
  readonly name: string;
  readonly address: string;
  readonly hostPublicKey: string;
  cleanup(): Promise<void>;
}

/**
 * Writes the harness' client files: a known_hosts with every host's key, and an ssh_config
 * that pins it and the client key, with no prompts (`what` names the harness in its comment).
 */
export async function writeHarnessSshFiles(
  files: { clientKey: string; knownHostsFile: string; sshConfigFile: string },
  hosts: readonly HarnessHost[],
  what: string,
): Promise<void> {
  await Deno.writeTextFile(
    files.knownHostsFile,
    hosts.map((host) => `${host.address} ${host.hostPublicKey}\n`).join(""),
  );
  await Deno.writeTextFile(
    files.sshConfigFile,
    [
      `# ssh_config for ${what}: pinned host keys, the test client key, no prompts.`,
      "Host *",
      "  User root",
      `  IdentityFile ${files.clientKey}`,
      "  IdentitiesOnly yes",
      "  IdentityAgent none",
      `  UserKnownHostsFile ${files.knownHostsFile}`,
      "  GlobalKnownHostsFile /dev/null",
      "  StrictHostKeyChecking yes",
      "  CheckHostIP no",
      "  BatchMode yes",
      "  ConnectTimeout 5",
      "  LogLevel ERROR",
      "",
    ].join("\n"),
  );
}

/**
 * Cleans every host of a harness up, then reaps what a failed clean-up left in its folder and
 * releases the address leases (an emptied lock file tells the next owner that there is nothing
 * to reap); throws every clean-up failure at once.
 */
export async function disposeHarness(
  dir: string,
  hosts: readonly HarnessHost[],
  leases: readonly AddressLease[],
  what: string,
): Promise<void> {
  const results = await Promise.allSettled(hosts.map((host) => host.cleanup()));
  // Also whatever a failed clean-up of one host left in its namespace.
  await reapHarness(dir);
  for (const lease of leases) {
    if (results.every((r) => r.status === "fulfilled")) await lease.file.truncate(0);
    lease.file.close();
  }
  const failures = results.flatMap((r) => r.status === "rejected" ? [r.reason] : []);
  if (failures.length > 0) throw new AggregateError(failures, `Cannot clean up every ${what}`);
}

/** The host of `hosts` named `name`; throws naming the harness (`what`). */
export function harnessHost<H extends { readonly name: string }>(
  hosts: readonly H[],
  name: string,
  what: string,
): H {
  const host = hosts.find((h) => h.name === name);
  if (host === undefined) throw new Error(`Cannot find ${what} "${name}"`);
  return host;
}

/** Starts `count` test hosts in parallel; dispose the result (or use `await using`). */
export async function startTestHosts(
  count: number,
  options: TestHostsOptions = {},
): Promise<TestHosts> {
  const names = options.names ?? Array.from({ length: count }, (_, i) => `host${i + 1}`);
  if (names.length !== count) {
    throw new Error(`Cannot start ${count} test hosts: ${names.length} names given`);
  }
  if (new Set(names).size !== names.length) {
    throw new Error(`Cannot start test hosts: a name is used twice in ${names.join(", ")}`);
  }
  // In /tmp whatever TMPDIR says: sshd_config and NIX_SSHOPTS cut paths at spaces, and a
  // TMPDIR that does not exist would fail here with no word of why.
  const dir = await Deno.realPath(
    await Deno.makeTempDir({ dir: HARNESS_PARENT, prefix: "devops-hosts-" }),
  );
  const leases = await leaseAddresses(count, dir).catch(async (error) => {
    await Deno.remove(dir, { recursive: true });
    throw error;
  });
  const clientKey = `${dir}/client_ed25519`;
  const knownHostsFile = `${dir}/known_hosts`;
  const sshConfigFile = `${dir}/ssh_config`;
  const hosts = names.map((name, i) => {
    const lease = leases[i]!;
    return new Host(name, lease.address, `${dir}/hosts/${name}`, lease.index, {
      clientKey,
      sshConfigFile,
    });
  });
  let disposed = false;
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    await disposeHarness(dir, hosts, leases, "test host");
  };
  try {
    const clientPublicKey = await keygen(clientKey, "test-client");
    await Promise.all(hosts.map((host) => Deno.mkdir(host.dir, { recursive: true })));
    await Promise.all(hosts.map((host) => host.prepare(clientPublicKey)));
    await writeHarnessSshFiles({ clientKey, knownHostsFile, sshConfigFile }, hosts, "test hosts");
    await Promise.all(hosts.map((host) => host.start()));
    return {
      hosts,
      dir,
      clientKey,
      clientPublicKey,
      knownHostsFile,
      sshConfigFile,
      nixSshEnv: { NIX_SSHOPTS: `-F ${sshConfigFile}` },
      host: (name) => harnessHost(hosts, name, "test host"),
      [Symbol.asyncDispose]: dispose,
    };
  } catch (error) {
    await dispose().catch(() => {});
    throw error;
  }
}
