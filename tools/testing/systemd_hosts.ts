// Systemd test hosts: real systemd as PID 1 in a `systemd-nspawn` container per host, beside
// the light sshd hosts of lib/local_hosts.ts (which stay wherever systemd does not matter). Each
// boots the machine's own /usr with a volatile root, its own /nix (kept across reboots), an
// empty /run, its own /etc overlay (host key, users, sudo rules, machine-id) and only the units
// the harness names: sshd, journald, logind, a NixOS stage-2 stand-in and what a test adds;
// never the machine's own services or timers. Runs as root (nspawn, cgroups, port 22, nft).
//
// Lifecycle: start boots the container (bounded wait for sshd), stop shuts it down (SIGTERM to
// nspawn: systemd halts), reboot is stop + start (the system profile becomes the booted and
// current system, as NixOS's stage 2 does), kill empties its cgroups (`cgroup.kill`: power
// loss), freeze and thaw write `cgroup.freeze`, cut off adds an nft table. Each host holds a
// 127.0.0.N address lock shared with the light hosts; a later harness that takes the lock of a
// crashed one kills what its cgroups hold and removes its folder (local_hosts.ts reapLease).
import { type CommandResult, createRunner } from "../lib/runner.ts";
import {
  type AddressLease,
  cutOffAddress,
  deleteFirewallTable,
  disposeHarness,
  harnessCanConnect,
  harnessHost,
  harnessSsh,
  harnessSshArgv,
  hostCgroupName,
  hostCgroups,
  keygen,
  killCgroup,
  leaseAddresses,
  listening,
  removeCgroupTree,
  resolveOnHost,
  type SshOptions,
  type TestHost,
  type TestHosts,
  writeHarnessSshFiles,
} from "../lib/local_hosts.ts";

/** A login user of every systemd host besides root. */
export interface SystemdHostUser {
  name: string;
  /**
   * `nopasswd`: sudo without a password; `password`: sudo asks for {@linkcode password};
   * none: no sudo rule.
   */
  sudo?: "nopasswd" | "password";
  /** The user's password (for `sudo: "password"`). */
  password?: string;
}

/** Options for {@linkcode startSystemdHosts}. */
export interface SystemdHostsOptions {
  /** Host names, one per host (default `host1`, `host2`, …). */
  names?: string[];
  /** Users besides root, on every host, authorized with the harness' client key. */
  users?: SystemdHostUser[];
  /** Seconds a boot may take until sshd listens (default 60: the machine is shared). */
  bootTimeoutSeconds?: number;
}

/** One systemd test host; the {@linkcode TestHost} interface with systemd's lifecycle. */
export interface SystemdHost extends TestHost {
  /** The machine name (also its cgroup's): `devops-test-host-N`, unique while the lock is held. */
  readonly machine: string;
  /** The host's cgroup (v2) on the outer machine. */
  readonly cgroup: string;
  /** nspawn's output: the container's console (boot messages). */
  readonly consoleFile: string;
  /** Shuts systemd down and boots the container again (the system profile becomes the booted system). */
  reboot(): Promise<void>;
  /**
   * Adds a unit the next boots start (pulled in by the harness' target), e.g. a boot job that
   * keeps systemd `starting`. `removeBootUnit` takes it away again.
   */
  addBootUnit(name: string, text: string): Promise<void>;
  removeBootUnit(name: string): Promise<void>;
}

/** A set of systemd test hosts; dispose it to stop them and remove everything. */
export interface SystemdHosts extends TestHosts {
  readonly hosts: readonly SystemdHost[];
  host(name: string): SystemdHost;
}

const HARNESS_PARENT = "/tmp";
/** The unit the harness boots instead of the machine's default target. */
const TARGET = "devops-test.target";
const runner = createRunner({ write: () => {} });

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

async function tailOf(path: string, lines = 10): Promise<string> {
  const text = await Deno.readTextFile(path).catch(() => "");
  // The console colours its status words.
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "").trimEnd().split("\n").slice(-lines).join(" | ");
}

function sshdConfig(address: string): string {
  return [
    "# sshd_config of a systemd test host (tools/testing/systemd_hosts.ts).",
    `ListenAddress ${address}:22`,
    "HostKey /etc/ssh/ssh_host_ed25519_key",
    "AuthorizedKeysFile /etc/ssh/authorized_keys/%u",
    "PermitRootLogin prohibit-password",
    "PubkeyAuthentication yes",
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    // PAM as on NixOS: logins are logind sessions.
    "UsePAM yes",
    "PrintMotd no",
    "PrintLastLog no",
    "X11Forwarding no",
    "AllowAgentForwarding no",
    "MaxStartups 100",
    "MaxSessions 100",
    "Subsystem sftp internal-sftp",
    "",
  ].join("\n");
}

/**
 * The harness' target: what the container boots instead of the machine's default target. With
 * the nix daemon's socket, as NixOS has it: users other than root reach the store through it.
 */
function targetUnit(nixDaemon: boolean): string {
  return `[Unit]
Description=devops test host (tools/testing/systemd_hosts.ts)
Requires=basic.target
Wants=ssh.service systemd-journald.service systemd-logind.service systemd-user-sessions.service devops-stage2.service${
    nixDaemon ? " nix-daemon.socket" : ""
  }
After=basic.target
AllowIsolate=yes
`;
}

/**
 * NixOS's stage 2 in short: the system profile is the booted and the current system, and the
 * units it ships under `etc/systemd/system` are linked into /run/systemd/system and started
 * (runtime units; the fixture's switch-to-configuration installs them the same way).
 */
const STAGE2_SCRIPT = `#!/bin/sh
set -u
profile=/nix/var/nix/profiles/system
[ -e "$profile" ] || exit 0
system=$(readlink -f "$profile")
ln -sfn "$system" /run/booted-system
ln -sfn "$system" /run/current-system
[ -d "$system/etc/systemd/system" ] || exit 0
mkdir -p /run/systemd/system
units=
for unit in "$system"/etc/systemd/system/*; do
  [ -e "$unit" ] || continue
  ln -sfn "$unit" "/run/systemd/system/\${unit##*/}"
  units="$units \${unit##*/}"
done
systemctl daemon-reload
[ -n "$units" ] && systemctl start --no-block -- $units
exit 0
`;

const STAGE2_UNIT = `[Unit]
Description=NixOS stage-2 stand-in: the system profile becomes the booted system
After=local-fs.target systemd-tmpfiles-setup.service
Before=ssh.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh /etc/devops-test/stage2.sh
`;

/** Spawns `sh -c script`; it gets SIGTERM (nspawn: halt the container) should this process die. */
function spawnShell(script: string, args: string[]): Deno.ChildProcess {
  return new Deno.Command("setpriv", {
    args: ["--pdeathsig", "TERM", "--", "/bin/sh", "-c", script, "sh", ...args],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

// Moves itself into the host's cgroups, then becomes nspawn in a session of its own (a Ctrl-C to
// the test's process group must not reach it). $1 console file, $2 cgroup folders (one word
// each, space-separated), then nspawn's arguments.
const NSPAWN_SCRIPT = `console=$1 cgroups=$2; shift 2
for cg in $cgroups; do echo $$ > "$cg/cgroup.procs" || exit 1; done
exec setsid systemd-nspawn "$@" > "$console" 2>&1 < /dev/null
`;

class SystemdTestHost implements SystemdHost {
  readonly port = 22 as const;
  readonly user = "root" as const;
  readonly nixDir: string;
  readonly logFile: string;
  readonly consoleFile: string;
  readonly storeUrl: string;
  readonly sshTarget: string;
  readonly machine: string;
  readonly cgroup: string;
  readonly #cgroups: string[];
  readonly #upper: string;
  hostPublicKey = "";
  #nspawn:
    | { child: Deno.ChildProcess; status: Promise<Deno.CommandStatus>; done: boolean }
    | undefined;
  /** The container's PID 1 while it runs (its /run and /root are seen through /proc/<pid>/root). */
  #leader: number | undefined;

  constructor(
    readonly name: string,
    readonly address: string,
    readonly dir: string,
    readonly index: number,
    readonly harness: {
      clientKey: string;
      sshConfigFile: string;
      bootTimeoutSeconds: number;
    },
  ) {
    this.nixDir = `${dir}/nix`;
    this.consoleFile = `${dir}/console.log`;
    this.logFile = this.consoleFile;
    this.#upper = `${dir}/etc`;
    this.sshTarget = `root@${address}`;
    this.storeUrl = `ssh-ng://root@${address}?ssh-key=${harness.clientKey}`;
    this.machine = hostCgroupName(index);
    const cgroups = hostCgroups(index);
    this.cgroup = cgroups.unified;
    this.#cgroups = cgroups.all;
  }

  get running(): boolean {
    return this.#nspawn !== undefined && !this.#nspawn.done;
  }

  get runDir(): string {
    return `${this.#root()}/run`;
  }

  get homeDir(): string {
    return `${this.#root()}/root`;
  }

  #root(): string {
    // While stopped, a path that does not exist: reads fail as for a missing file.
    return this.#leader === undefined ? `${this.dir}/not-running` : `/proc/${this.#leader}/root`;
  }

  /** Writes the /etc overlay: machine-id, hostname, sshd, users, sudo, the harness' units. */
  async prepare(clientPublicKey: string, users: readonly SystemdHostUser[]): Promise<void> {
    const etc = this.#upper;
    await Deno.mkdir(`${this.nixDir}/store`, { recursive: true });
    await Deno.mkdir(`${this.nixDir}/var/nix/profiles`, { recursive: true });
    await Deno.mkdir(`${etc}/systemd/system/${TARGET}.wants`, { recursive: true });
    // Whiteouts hide the machine's own enabled units, aliases and timers from the container.
    for await (const entry of Deno.readDir("/etc/systemd/system")) {
      await runner.run({
        argv: ["mknod", `${etc}/systemd/system/${entry.name}`, "c", "0", "0"],
      });
    }
    await Deno.mkdir(`${etc}/ssh/authorized_keys`, { recursive: true });
    await Deno.mkdir(`${etc}/devops-test`, { recursive: true });
    await Deno.mkdir(`${etc}/sudoers.d`, { recursive: true });
    await Deno.mkdir(`${etc}/tmpfiles.d`, { recursive: true });
    const machineId = crypto.randomUUID().replaceAll("-", "");
    await Deno.writeTextFile(`${etc}/machine-id`, `${machineId}\n`);
    await Deno.writeTextFile(`${etc}/hostname`, `${this.name}\n`);
    this.hostPublicKey = await keygen(`${etc}/ssh/ssh_host_ed25519_key`, this.name);
    await Deno.writeTextFile(`${etc}/ssh/sshd_config`, sshdConfig(this.address));
    const nixDaemon = await exists("/lib/systemd/system/nix-daemon.socket");
    await Deno.writeTextFile(`${etc}/systemd/system/${TARGET}`, targetUnit(nixDaemon));
    // The users may copy unsigned paths into the store, as a deploy user on NixOS may.
    await Deno.mkdir(`${etc}/nix`, { recursive: true });
    const nixConf = await Deno.readTextFile("/etc/nix/nix.conf").catch(() => "");
    await Deno.writeTextFile(
      `${etc}/nix/nix.conf`,
      `${nixConf}\ntrusted-users = root ${users.map((u) => u.name).join(" ")}\n`,
    );
    await Deno.writeTextFile(`${etc}/systemd/system/devops-stage2.service`, STAGE2_UNIT);
    await Deno.writeTextFile(`${etc}/devops-test/stage2.sh`, STAGE2_SCRIPT);
    const keys = `${etc}/ssh/authorized_keys`;
    await Deno.writeTextFile(`${keys}/root`, `${clientPublicKey}\n`, { mode: 0o644 });
    // Users: the machine's passwd, group and shadow plus ours, homes made at boot.
    const passwd = [await Deno.readTextFile("/etc/passwd")];
    const group = [await Deno.readTextFile("/etc/group")];
    const shadow = [await Deno.readTextFile("/etc/shadow")];
    const sudoers: string[] = [];
    const tmpfiles: string[] = [];
    for (const [i, user] of users.entries()) {
      const uid = 2000 + i;
      passwd.push(`${user.name}:x:${uid}:${uid}::/home/${user.name}:/bin/sh\n`);
      group.push(`${user.name}:x:${uid}:\n`);
      const hash = user.password === undefined ? "!" : (await runner.text({
        argv: ["openssl", "passwd", "-6", "-stdin"],
        stdin: user.password,
      }));
      shadow.push(`${user.name}:${hash}:19000:0:99999:7:::\n`);
      tmpfiles.push(`d /home/${user.name} 0700 ${user.name} ${user.name} -\n`);
      await Deno.writeTextFile(`${keys}/${user.name}`, `${clientPublicKey}\n`, { mode: 0o644 });
      if (user.sudo === "nopasswd") sudoers.push(`${user.name} ALL=(ALL:ALL) NOPASSWD: ALL\n`);
      if (user.sudo === "password") sudoers.push(`${user.name} ALL=(ALL:ALL) ALL\n`);
    }
    await Deno.writeTextFile(`${etc}/passwd`, passwd.join(""));
    // Debian's nix daemon socket admits the group nix-users only (NixOS's admits everyone).
    const names = users.map((u) => u.name);
    const groups = group.join("").split("\n").map((line) => {
      if (!line.startsWith("nix-users:") || names.length === 0) return line;
      const members = line.split(":")[3] ?? "";
      return `${line.split(":").slice(0, 3).join(":")}:${
        [members, ...names].filter(Boolean).join(",")
      }`;
    });
    await Deno.writeTextFile(`${etc}/group`, groups.join("\n"));
    await Deno.writeTextFile(`${etc}/shadow`, shadow.join(""), { mode: 0o640 });
    await Deno.writeTextFile(`${etc}/sudoers.d/devops-test`, sudoers.join(""), { mode: 0o440 });
    await Deno.writeTextFile(`${etc}/tmpfiles.d/devops-test.conf`, tmpfiles.join(""));
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

  /** Boots the container and waits (bounded) until its sshd listens. */
  async start(): Promise<void> {
    if (this.running) return;
    await this.#shutDown(0);
    for (const cg of this.#cgroups) await Deno.mkdir(cg, { recursive: true });
    await Deno.writeTextFile(this.consoleFile, "");
    const child = spawnShell(NSPAWN_SCRIPT, [
      this.consoleFile,
      this.#cgroups.join(" "),
      "--quiet",
      "--directory=/",
      // The machine's /usr under a tmpfs root: nothing the container writes reaches the machine.
      "--volatile=yes",
      "--boot",
      // The machine's PID 1 is not systemd: no machined to register with, no unit to move to.
      "--register=no",
      "--keep-unit",
      `--machine=${this.machine}`,
      "--console=read-only",
      "--link-journal=no",
      `--overlay=/etc:${this.#upper}:/etc`,
      `--bind=${this.nixDir}:/nix`,
      "systemd.firstboot=off",
      `systemd.unit=${TARGET}`,
      "systemd.mask=timers.target",
    ]);
    const nspawn = { child, status: child.status, done: false };
    nspawn.status.then(() => (nspawn.done = true));
    this.#nspawn = nspawn;
    const deadline = Date.now() + this.harness.bootTimeoutSeconds * 1000;
    // Booted to SSH: sshd listens and logins are allowed (systemd-user-sessions removed
    // /run/nologin, which pam_nologin reads to refuse users other than root).
    const booted = async () => {
      if (!(await listening(this.address))) return false;
      this.#leader = await this.#findLeader();
      return this.#leader !== undefined &&
        !(await exists(`/proc/${this.#leader}/root/run/nologin`));
    };
    while (!(await booted())) {
      if (nspawn.done || Date.now() > deadline) {
        const why = nspawn.done
          ? `nspawn exited with code ${(await nspawn.status).code}`
          : `sshd did not accept logins within ${this.harness.bootTimeoutSeconds} s`;
        await this.kill();
        throw new Error(
          `Cannot boot systemd test host "${this.name}" on ${this.address}: ${why}: ${await tailOf(
            this.consoleFile,
          )}`,
        );
      }
      await sleep(20);
    }
  }

  /** The container's systemd: the process in the payload's init.scope. */
  async #findLeader(): Promise<number | undefined> {
    const procs = await Deno.readTextFile(`${this.cgroup}/payload/init.scope/cgroup.procs`)
      .catch(() => "");
    const pid = Number(procs.split("\n")[0]);
    return pid > 0 ? pid : undefined;
  }

  /** Halts systemd (SIGTERM to nspawn), bounded; what is left is killed by cgroup. */
  async stop(): Promise<void> {
    await this.#shutDown(30_000);
  }

  async #shutDown(graceMs: number): Promise<void> {
    const nspawn = this.#nspawn;
    if (nspawn !== undefined && !nspawn.done && graceMs > 0) {
      // A frozen container cannot halt.
      await Deno.writeTextFile(`${this.cgroup}/cgroup.freeze`, "0").catch(() => {});
      try {
        Deno.kill(nspawn.child.pid, "SIGTERM");
      } catch {
        // gone
      }
      const deadline = Date.now() + graceMs;
      while (!nspawn.done && Date.now() < deadline) await sleep(20);
    }
    await killCgroup(this.cgroup);
    if (nspawn !== undefined) await nspawn.status;
    this.#nspawn = undefined;
    this.#leader = undefined;
    for (const cg of this.#cgroups) await removeCgroupTree(cg);
    await Deno.remove(`/run/systemd/nspawn/propagate/${this.machine}`, { recursive: true })
      .catch(() => {});
  }

  async reboot(): Promise<void> {
    await this.stop();
    await this.start();
  }

  /** Kills every process of the container at once (`cgroup.kill`: power loss). */
  async kill(): Promise<void> {
    await this.#shutDown(0);
  }

  async freeze(): Promise<void> {
    await Deno.writeTextFile(`${this.cgroup}/cgroup.freeze`, "1");
    for (let round = 0; round < 2000; round++) {
      const events = await Deno.readTextFile(`${this.cgroup}/cgroup.events`);
      if (/^frozen 1$/m.test(events)) return;
      await sleep(5);
    }
    throw new Error(
      `Cannot freeze systemd test host "${this.name}": cgroup.events never said frozen`,
    );
  }

  async thaw(): Promise<void> {
    await Deno.writeTextFile(`${this.cgroup}/cgroup.freeze`, "0").catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
  }

  async cutOff(): Promise<void> {
    await cutOffAddress(this.index, this.address);
  }

  async restore(): Promise<void> {
    await deleteFirewallTable(this.index);
  }

  /** Every pid in the host's cgroup tree: nspawn and the container's processes. */
  async processes(): Promise<number[]> {
    const pids: number[] = [];
    const walk = async (path: string) => {
      const procs = await Deno.readTextFile(`${path}/cgroup.procs`).catch(() => "");
      for (const line of procs.split("\n")) if (line) pids.push(Number(line));
      for (const entry of await Array.fromAsync(Deno.readDir(path)).catch(() => [])) {
        if (entry.isDirectory) await walk(`${path}/${entry.name}`);
      }
    };
    await walk(this.cgroup);
    return pids.sort((a, b) => a - b);
  }

  hostPath(path: string): string {
    if (path === "/nix" || path.startsWith("/nix/")) return this.nixDir + path.slice(4);
    if (path === "/run" || path.startsWith("/run/")) return this.runDir + path.slice(4);
    if (path === "/root" || path.startsWith("/root/")) return this.homeDir + path.slice(5);
    if (path === "/etc" || path.startsWith("/etc/")) return `${this.#root()}${path}`;
    throw new Error(
      `Cannot map "${path}" of systemd test host "${this.name}": not under /nix, /run, /root or /etc`,
    );
  }

  resolve(path: string): Promise<string> {
    return resolveOnHost(this, path, "systemd test host");
  }

  async addBootUnit(name: string, text: string): Promise<void> {
    await Deno.writeTextFile(`${this.#upper}/systemd/system/${name}`, text);
    await Deno.symlink(`../${name}`, `${this.#upper}/systemd/system/${TARGET}.wants/${name}`);
  }

  async removeBootUnit(name: string): Promise<void> {
    await Deno.remove(`${this.#upper}/systemd/system/${TARGET}.wants/${name}`);
    await Deno.remove(`${this.#upper}/systemd/system/${name}`);
  }

  /** Stops the container, removes the firewall table; safe to call more than once. */
  async cleanup(): Promise<void> {
    await this.stop();
    await this.restore();
  }
}

/** Boots `count` systemd test hosts in parallel; dispose the result (or use `await using`). */
export async function startSystemdHosts(
  count: number,
  options: SystemdHostsOptions = {},
): Promise<SystemdHosts> {
  const names = options.names ?? Array.from({ length: count }, (_, i) => `host${i + 1}`);
  if (names.length !== count) {
    throw new Error(`Cannot start ${count} systemd test hosts: ${names.length} names given`);
  }
  if (new Set(names).size !== names.length) {
    throw new Error(`Cannot start systemd test hosts: a name is used twice in ${names.join(", ")}`);
  }
  if (!(await exists("/usr/bin/systemd-nspawn"))) {
    throw new Error(
      "Cannot start systemd test hosts: systemd-nspawn is missing; run tools/testing/install_test_programs.sh",
    );
  }
  // The folder name is the one the address locks name (a later owner reaps it).
  const dir = await Deno.realPath(
    await Deno.makeTempDir({ dir: HARNESS_PARENT, prefix: "devops-hosts-systemd-" }),
  );
  const leases: AddressLease[] = await leaseAddresses(count, dir).catch(async (error) => {
    await Deno.remove(dir, { recursive: true });
    throw error;
  });
  const clientKey = `${dir}/client_ed25519`;
  const knownHostsFile = `${dir}/known_hosts`;
  const sshConfigFile = `${dir}/ssh_config`;
  const hosts = names.map((name, i) => {
    const lease = leases[i]!;
    return new SystemdTestHost(name, lease.address, `${dir}/hosts/${name}`, lease.index, {
      clientKey,
      sshConfigFile,
      bootTimeoutSeconds: options.bootTimeoutSeconds ?? 60,
    });
  });
  let disposed = false;
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    await disposeHarness(dir, hosts, leases, "systemd test host");
  };
  try {
    const clientPublicKey = await keygen(clientKey, "test-client");
    await Promise.all(hosts.map((host) => Deno.mkdir(host.dir, { recursive: true })));
    await Promise.all(hosts.map((host) => host.prepare(clientPublicKey, options.users ?? [])));
    await writeHarnessSshFiles(
      { clientKey, knownHostsFile, sshConfigFile },
      hosts,
      "systemd test hosts",
    );
    await Promise.all(hosts.map((host) => host.start()));
    return {
      hosts,
      dir,
      clientKey,
      clientPublicKey,
      knownHostsFile,
      sshConfigFile,
      nixSshEnv: { NIX_SSHOPTS: `-F ${sshConfigFile}` },
      host: (name) => harnessHost(hosts, name, "systemd test host"),
      [Symbol.asyncDispose]: dispose,
    };
  } catch (error) {
    await dispose().catch(() => {});
    throw error;
  }
}
