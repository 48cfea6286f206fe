import { createRunner } from "../lib/runner.ts";
import { hostCgroupName, reapStaleTestHosts } from "../lib/local_hosts.ts";
import { assert, assertEquals, assertStringIncludes } from "./assert.ts";
import { startSystemdHosts, type SystemdHost } from "./systemd_hosts.ts";

const runner = createRunner({ write: () => {} });

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

async function nftTables(): Promise<string> {
  return (await runner.run({ argv: ["nft", "list", "tables"] })).stdout;
}

async function mountCount(): Promise<number> {
  return (await Deno.readTextFile("/proc/self/mountinfo")).trim().split("\n").length;
}

/** Whether a process lives (a zombie holds nothing and waits for a reaper outside our control). */
async function alive(pid: number): Promise<boolean> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => undefined);
  return stat !== undefined && !/\) Z /.test(stat);
}

function indexOf(host: { address: string }): number {
  return Number(host.address.split(".")[3]);
}

/** A store path in the host's own store and the system profile pointing at it (generation n). */
async function fakeSystem(host: SystemdHost, n: number): Promise<string> {
  const path = `/nix/store/${crypto.randomUUID().replaceAll("-", "").slice(0, 32)}-system-${n}`;
  await Deno.mkdir(host.hostPath(path), { recursive: true });
  await Deno.writeTextFile(host.hostPath(`${path}/nixos-version`), `fake-${n}\n`);
  const profiles = host.hostPath("/nix/var/nix/profiles");
  await Deno.symlink(path, `${profiles}/system-${n}-link`);
  await Deno.remove(`${profiles}/system`).catch(() => {});
  await Deno.symlink(`system-${n}-link`, `${profiles}/system`);
  return path;
}

Deno.test("systemd hosts boot real systemd with only the harness' units, sshd, sudo and users", async () => {
  await using hosts = await startSystemdHosts(2, {
    names: ["web1", "web2"],
    users: [{ name: "deployer", sudo: "nopasswd" }, {
      name: "asker",
      sudo: "password",
      password: "pw1",
    }],
  });
  const [web1, web2] = hosts.hosts as [SystemdHost, SystemdHost];
  assert(web1.address !== web2.address, "each host has its own address");
  for (const host of [web1, web2]) {
    const state = await host.ssh("systemctl is-system-running --wait", { okCodes: [1] });
    assertEquals(state.stdout.trim(), "running", "booted with no failed unit");
    assertEquals((await host.ssh("hostname")).stdout.trim(), host.name);
    assertEquals(
      (await host.ssh("readlink /proc/1/exe")).stdout.trim(),
      "/usr/lib/systemd/systemd",
    );
  }
  // Only the harness' unit set: no service or timer of the machine's own.
  const services = (await web1.ssh(
    "systemctl list-units --type=service,timer --state=active --no-legend --plain | cut -d' ' -f1",
  )).stdout.split("\n").filter(Boolean);
  for (const unit of services) {
    assert(
      /^(ssh|dbus|systemd-[a-z-]+|user@0|user-runtime-dir@0|devops-stage2|nix-daemon)\.service$/
        .test(unit),
      `unexpected unit ${unit}`,
    );
  }
  assert(services.includes("ssh.service") && services.includes("systemd-journald.service"));
  // Each host has its own /nix and /run.
  await Deno.writeTextFile(web1.hostPath("/nix/mark"), "web1\n");
  assertEquals((await web1.ssh("cat /nix/mark")).stdout, "web1\n");
  assertEquals((await web2.ssh("cat /nix/mark", { okCodes: [1] })).code, 1);
  await web1.ssh("echo r > /run/mark");
  assertEquals(await Deno.readTextFile(web1.hostPath("/run/mark")), "r\n");
  assert(!(await exists(web2.hostPath("/run/mark"))));
  // The users log in with the client key; sudo asks the one that needs a password.
  const deployer = await runner.run({
    argv: ["ssh", "-F", hosts.sshConfigFile, `deployer@${web1.address}`, "sudo -n id -u"],
  });
  assertEquals(deployer.stdout.trim(), "0");
  const asker = await runner.run({
    argv: ["ssh", "-F", hosts.sshConfigFile, `asker@${web1.address}`, "sudo -n true"],
    okCodes: [1],
  });
  assertStringIncludes(asker.stderr, "password is required");
  const withPassword = await runner.run({
    argv: ["ssh", "-F", hosts.sshConfigFile, `asker@${web1.address}`, "sudo -S -p '' id -u"],
    stdin: "pw1\n",
  });
  assertEquals(withPassword.stdout.trim(), "0");
});

Deno.test("a systemd host freezes, is cut off, reboots into its profile and dies by its cgroup", async () => {
  await using hosts = await startSystemdHosts(1, { names: ["web1"] });
  const web1 = hosts.host("web1");
  assert(await web1.canConnect(), "up");

  await web1.freeze();
  assertEquals(await web1.canConnect(1), false, "a frozen host does not answer");
  await web1.thaw();
  assert(await web1.canConnect(5), "thawed");

  await web1.cutOff();
  assertStringIncludes(await nftTables(), `devops_test_host_${indexOf(web1)}`);
  assertEquals(await web1.canConnect(1), false, "a cut-off host does not answer");
  await web1.restore();
  assert(await web1.canConnect(5), "restored");

  // A reboot: the system profile becomes the booted and the current system; /run starts empty.
  const system = await fakeSystem(web1, 1);
  await web1.ssh("echo before > /run/mark");
  const firstBoot = (await web1.ssh(
    "cat /proc/sys/kernel/random/boot_id; systemctl show -p InvocationID --value systemd-journald",
  )).stdout;
  await web1.reboot();
  assertEquals(await web1.resolve("/run/booted-system"), system);
  assertEquals(await web1.resolve("/run/current-system"), system);
  assertEquals((await web1.ssh("cat /run/current-system/nixos-version")).stdout, "fake-1\n");
  assert(!(await exists(web1.hostPath("/run/mark"))), "/run is emptied by a reboot");
  const secondBoot = (await web1.ssh(
    "cat /proc/sys/kernel/random/boot_id; systemctl show -p InvocationID --value systemd-journald",
  )).stdout;
  assert(firstBoot !== secondBoot, "systemd started again");

  // kill: every process of the container at once, by cgroup.
  const pids = await web1.processes();
  assert(pids.length >= 4, `nspawn, systemd, journald, sshd…: ${pids}`);
  await web1.kill();
  assertEquals(web1.running, false);
  for (const pid of pids) assert(!(await alive(pid)), `pid ${pid} is gone`);
  assertEquals(await web1.canConnect(1), false);
  await web1.start();
  assert(await web1.canConnect(5), "boots again after a kill");
});

Deno.test("systemd hosts leave nothing behind: processes, cgroups, nspawn folders, mounts, nft tables", async () => {
  const mountsBefore = await mountCount();
  const hosts = await startSystemdHosts(2);
  const [one, two] = hosts.hosts as [SystemdHost, SystemdHost];
  await one.cutOff();
  // A process that outlives the session, as a deploy's supervisor does.
  await two.ssh("systemd-run --unit=lingering sleep 300");
  const pids = [...await one.processes(), ...await two.processes()];
  const dir = hosts.dir;
  await hosts[Symbol.asyncDispose]();
  for (const pid of pids) assert(!(await alive(pid)), `pid ${pid} is gone`);
  for (const host of [one, two]) {
    assert(!(await exists(host.cgroup)), `no cgroup ${host.cgroup}`);
    assert(!(await exists(`/sys/fs/cgroup/systemd/${host.machine}`)));
    assert(!(await exists(`/run/systemd/nspawn/propagate/${host.machine}`)));
  }
  assert(!(await exists(dir)), "the harness folder is removed");
  // nspawn's overlay work folders would sit beside the upper folder, in the removed host folder,
  // or in /tmp.
  const leftovers = (await Array.fromAsync(Deno.readDir("/tmp"))).filter((e) =>
    e.name.startsWith(".#")
  );
  assertEquals(leftovers.map((e) => e.name).filter((n) => n.includes(one.machine)), []);
  assertEquals(await mountCount(), mountsBefore);
  assert(!(await nftTables()).includes(`devops_test_host_${indexOf(one)}`));
});

Deno.test("reapStaleTestHosts() kills the container of a crashed run by its cgroup", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/crash.ts`;
    await Deno.writeTextFile(
      script,
      `import { startSystemdHosts } from ${
        JSON.stringify(import.meta.resolve("./systemd_hosts.ts"))
      };
const hosts = await startSystemdHosts(1);
const host = hosts.hosts[0];
await host.cutOff();
const pids = await host.processes();
// The worst crash: nspawn SIGKILLed, which leaves its container running.
const nspawn = Number((await Deno.readTextFile(\`\${host.cgroup}/supervisor/cgroup.procs\`)).trim());
Deno.kill(nspawn, "SIGKILL");
console.log(JSON.stringify({ dir: hosts.dir, address: host.address, cgroup: host.cgroup, pids }));
Deno.exit(0);
`,
    );
    const config = new URL("../../deno.json", import.meta.url).pathname;
    const result = await runner.run({
      argv: ["deno", "run", "--allow-all", "--config", config, script],
    });
    const crashed = JSON.parse(result.stdout) as {
      dir: string;
      address: string;
      cgroup: string;
      pids: number[];
    };
    const index = indexOf(crashed);
    const living = async () => {
      const states = await Promise.all(crashed.pids.map(alive));
      return crashed.pids.filter((_, i) => states[i]);
    };
    assert((await living()).length >= 3, "the container runs on without nspawn");
    assertStringIncludes(await nftTables(), `devops_test_host_${index}`);

    await reapStaleTestHosts();
    assertEquals(await living(), [], "the container's processes are killed");
    assert(!(await exists(crashed.cgroup)), "its cgroup is removed");
    assert(!(await exists(`/run/systemd/nspawn/propagate/${hostCgroupName(index)}`)));
    assert(!(await nftTables()).includes(`devops_test_host_${index}`), "its table is removed");
    assert(!(await exists(crashed.dir)), "its folder is removed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
