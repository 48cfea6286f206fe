import { createRunner } from "../lib/runner.ts";
import { CommandError } from "../lib/errors.ts";
import { assert, assertEquals, assertRejects, assertStringIncludes } from "./assert.ts";
import { createFixtureFlake, fixtureHostsFor } from "./fixture_flake.ts";
import {
  processState,
  reapStaleTestHosts,
  startTestHosts,
  type TestHost,
  withTestHosts,
} from "./test_hosts.ts";

const runner = createRunner({ write: () => {} });

async function ownMountNamespace(): Promise<string> {
  return await Deno.readLink("/proc/self/ns/mnt");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

async function nftTables(): Promise<string> {
  return (await runner.run({ argv: ["nft", "list", "tables"] })).stdout;
}

Deno.test("startTestHosts() hosts accept SSH with the pinned host key and refuse a wrong one", async () => {
  await withTestHosts(2, async (testHosts) => {
    const [one, two] = testHosts.hosts as [TestHost, TestHost];
    assertEquals([one.name, two.name], ["host1", "host2"]);
    assert(one.address !== two.address, "each host has its own address");
    for (const host of [one, two]) {
      assert(/^127\.0\.0\.(\d+)$/.test(host.address) && host.address !== "127.0.0.1");
      assertEquals([host.port, host.user], [22, "root"]);
      assertStringIncludes(host.hostPublicKey, "ssh-ed25519 ");
      assertStringIncludes(
        await Deno.readTextFile(testHosts.knownHostsFile),
        `${host.address} ${host.hostPublicKey}`,
      );
    }
    // Each host runs in a mount namespace of its own, with its own (empty) /nix/store.
    const namespaces = await Promise.all(
      [one, two].map(async (host) => (await host.ssh("readlink /proc/self/ns/mnt")).stdout.trim()),
    );
    assertEquals(new Set([...namespaces, await ownMountNamespace()]).size, 3);
    assertEquals((await one.ssh("ls -A /nix/store")).stdout, "");
    // ... and its own, empty home: no start-up files of the machine running the tests.
    assertEquals((await one.ssh("echo $HOME; ls -A /root")).stdout, "/root\n");
    // Arrays are quoted word by word.
    assertEquals((await one.ssh(["printf", "%s|", "a b", "$HOME"])).stdout, "a b|$HOME|");

    // A known_hosts that pins another key for the address is refused, and so is none at all.
    const wrong = `${testHosts.dir}/wrong_known_hosts`;
    await Deno.writeTextFile(wrong, `${one.address} ${two.hostPublicKey}\n`);
    const argv = one.sshArgv("true", { connectTimeout: 2 });
    const withKnownHosts = (file: string) => [
      argv[0]!,
      "-o",
      `UserKnownHostsFile=${file}`,
      ...argv.slice(1),
    ];
    const refused = await assertRejects(
      () => runner.run({ argv: withKnownHosts(wrong) }),
      CommandError,
    );
    assertEquals(refused.code, 255);
    assertStringIncludes(refused.stderrTail, "REMOTE HOST IDENTIFICATION HAS CHANGED");
    const unknown = await assertRejects(
      () => runner.run({ argv: withKnownHosts("/dev/null") }),
      CommandError,
    );
    assertStringIncludes(unknown.stderrTail, "Host key verification failed");
  });
});

Deno.test("TestHost cutOff, freeze, stop and kill make SSH fail; restore, thaw and start undo them", async () => {
  await withTestHosts(4, async (testHosts) => {
    const [cut, frozen, stopped, killed] = testHosts.hosts as [
      TestHost,
      TestHost,
      TestHost,
      TestHost,
    ];
    await Promise.all([cut.cutOff(), frozen.freeze(), stopped.stop(), killed.kill()]);
    assert(!stopped.running && !killed.running && cut.running && frozen.running);
    assertEquals(await killed.processes(), []);
    assertEquals(await Promise.all(testHosts.hosts.map((host) => host.canConnect(1))), [
      false,
      false,
      false,
      false,
    ]);
    assertStringIncludes(await nftTables(), `devops_test_host_${cut.address.split(".")[3]}`);
    await Promise.all([cut.restore(), frozen.thaw(), stopped.start(), killed.start()]);
    assertEquals(await Promise.all(testHosts.hosts.map((host) => host.canConnect(5))), [
      true,
      true,
      true,
      true,
    ]);
    assert(!(await nftTables()).includes(`devops_test_host_${cut.address.split(".")[3]}`));
  });
});

Deno.test("TestHost stop() spares running processes; kill() ends them and start() boots afresh", async () => {
  await withTestHosts(1, async (testHosts) => {
    const host = testHosts.hosts[0]!;
    const namespace = (await host.ssh("readlink /proc/self/ns/mnt")).stdout.trim();
    // A process that outlives its SSH session, like a deploy's activation supervisor.
    await host.ssh("setsid sleep 300 </dev/null >/dev/null 2>&1 & echo started > /run/marker");
    assertEquals((await host.processes()).length, 3, "init, sshd and sleep");

    await host.stop();
    assertEquals((await host.processes()).length, 2, "init and sleep live on without sshd");
    await host.start();
    assertEquals((await host.ssh("readlink /proc/self/ns/mnt")).stdout.trim(), namespace);
    assert(await exists(host.hostPath("/run/marker")), "same boot keeps /run");

    await host.kill();
    assertEquals(await host.processes(), []);
    await host.start();
    assertEquals((await host.processes()).length, 2, "a boot has only init and sshd");
    assert(!(await exists(host.hostPath("/run/marker"))), "a boot empties /run");
  });
});

Deno.test("withTestHosts() leaves no process, firewall table, mount, folder or lock behind", async () => {
  const mountsBefore = await Deno.readTextFile("/proc/self/mountinfo");
  let seen: { dir: string; pids: number[]; addresses: string[] } | undefined;
  await assertRejects(
    () =>
      withTestHosts(2, async (testHosts) => {
        const [one, two] = testHosts.hosts as [TestHost, TestHost];
        await one.ssh("setsid sleep 300 </dev/null >/dev/null 2>&1 &");
        await one.cutOff();
        await two.freeze();
        seen = {
          dir: testHosts.dir,
          pids: [...(await one.processes()), ...(await two.processes())],
          addresses: [one.address, two.address],
        };
        throw new Error("the test failed");
      }),
    Error,
    "the test failed",
  );
  assert(seen !== undefined);
  assertEquals(seen.pids.length, 5, "two inits, two sshds and a sleep");
  for (const pid of seen.pids) {
    const state = await processState(pid);
    // Orphans are reaped by pid 1 in its own time; a zombie runs nothing.
    assert(state === undefined || state === "Z", `pid ${pid} is gone (state ${state})`);
  }
  assert(!(await exists(seen.dir)), "the folder is removed");
  assert(!(await nftTables()).includes("devops_test_host_"), "no firewall table is left");
  assertEquals(await Deno.readTextFile("/proc/self/mountinfo"), mountsBefore);
  for (const address of seen.addresses) {
    const lock = await Deno.open(`/tmp/devops-test-hosts/${address}.lock`, { write: true });
    assert(await lock.tryLock(true), `${address} is free again`);
    lock.close();
  }
});

Deno.test("nix copy puts a fixture closure into each test host's own store and system profile", async () => {
  await using testHosts = await startTestHosts(2, { names: ["web1", "db1"] });
  const web1 = testHosts.host("web1");
  const db1 = testHosts.host("db1");
  await using flake = await createFixtureFlake(fixtureHostsFor(testHosts.hosts));
  assertEquals(
    (await flake.git("show", "HEAD:configurations/web1/ssh_host_ed25519_key.pub")).trim(),
    web1.hostPublicKey,
  );
  const [web1System, db1System] = await Promise.all([
    flake.buildToplevel("web1"),
    flake.buildToplevel("db1"),
  ]);
  const closureOf = async (path: string, store?: string) =>
    (await runner.text({
      argv: ["nix", "path-info", "-r", ...(store ? ["--store", store] : []), path],
      env: testHosts.nixSshEnv,
    })).split("\n").sort();
  const web1Closure = await closureOf(web1System);
  assertEquals(web1Closure.length, 2);
  const outerProfile = await Deno.readLink("/nix/var/nix/profiles/system").catch(() => "none");

  const copy = (path: string, host: TestHost, extra: string[] = []) =>
    runner.run({
      argv: ["nix", "copy", "--no-check-sigs", ...extra, "--to", host.storeUrl, path],
      env: testHosts.nixSshEnv,
    });
  await copy(web1System, web1, ["--substitute-on-destination"]);

  // web1's store has the closure as real copies; db1's has nothing, though the outer store has it.
  assertEquals(await closureOf(web1System, web1.storeUrl), web1Closure);
  for (const path of web1Closure) {
    const inner = await Deno.lstat(`${web1.nixDir}${path.slice(4)}`);
    const outer = await Deno.lstat(path);
    assert(inner.ino !== outer.ino, `${path} is a copy, not the outer file`);
  }
  assertEquals([...Deno.readDirSync(`${db1.nixDir}/store`)].map((e) => e.name), []);
  const missing = await runner.run({
    argv: ["nix", "path-info", "--store", db1.storeUrl, web1System],
    env: testHosts.nixSshEnv,
    okCodes: [1],
  });
  assertEquals(missing.code, 1, "db1 does not have web1's system");
  assertStringIncludes(missing.stderr, "is not valid");

  await copy(db1System, db1);
  assertEquals(await closureOf(db1System, db1.storeUrl), await closureOf(db1System));

  // Each host gets its own system profile, seen from outside in its own /nix.
  await Promise.all([
    web1.ssh(["nix-env", "-p", "/nix/var/nix/profiles/system", "--set", web1System]),
    db1.ssh(["nix-env", "-p", "/nix/var/nix/profiles/system", "--set", db1System]),
  ]);
  assertEquals(
    await Deno.readLink(`${web1.nixDir}/var/nix/profiles/system`),
    "system-1-link",
  );
  assertEquals(await web1.resolve("/nix/var/nix/profiles/system"), web1System);
  assertEquals(await db1.resolve("/nix/var/nix/profiles/system"), db1System);
  assertEquals(
    await Deno.readLink("/nix/var/nix/profiles/system").catch(() => "none"),
    outerProfile,
    "the outer profile is untouched",
  );

  // Activation runs on the host and is recorded in the host's own /nix and /run.
  await web1.ssh([`${web1System}/bin/switch-to-configuration`, "switch"]);
  assertEquals(await web1.resolve("/run/current-system"), web1System);
  assertEquals(
    await Deno.readTextFile(`${web1.nixDir}/var/fixture/activations`),
    `switch ${web1System}\n`,
  );
  assertEquals(
    await Deno.readTextFile(web1.hostPath("/nix/var/fixture/current-system")),
    `${web1System}\n`,
  );
  assert(!(await exists(db1.hostPath("/run/current-system"))), "db1 activated nothing");
  // A reboot runs what the system profile points at.
  await db1.kill();
  await db1.start();
  assertEquals(await db1.resolve("/run/current-system"), db1System);
  assertEquals((await db1.ssh("cat /run/current-system/nixos-version")).stdout, "fixture-1\n");
});

Deno.test("reapStaleTestHosts() cleans up after a harness whose process died", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/crash.ts`;
    await Deno.writeTextFile(
      script,
      `import { startTestHosts } from ${JSON.stringify(import.meta.resolve("./test_hosts.ts"))};
const testHosts = await startTestHosts(1);
const host = testHosts.hosts[0];
await host.ssh("setsid sleep 300 </dev/null >/dev/null 2>&1 &");
await host.cutOff();
const pids = await host.processes();
console.log(JSON.stringify({ dir: testHosts.dir, address: host.address, pids }));
Deno.exit(0); // no cleanup, as after a crash
`,
    );
    const config = new URL("../../deno.json", import.meta.url).pathname;
    const result = await runner.run({
      argv: ["deno", "run", "--allow-all", "--config", config, script],
    });
    const crashed = JSON.parse(result.stdout) as { dir: string; address: string; pids: number[] };
    const table = `devops_test_host_${crashed.address.split(".")[3]}`;
    assertEquals(crashed.pids.length, 3, "init, sshd and sleep");
    const alive = async () => {
      const states = await Promise.all(crashed.pids.map(processState));
      return crashed.pids.filter((_, i) => states[i] !== undefined && states[i] !== "Z");
    };
    // init and sshd die with their parent; the orphaned session process lives on.
    for (let i = 0; i < 100 && (await alive()).length > 1; i++) await sleep(10);
    assertEquals((await alive()).length, 1);
    assertStringIncludes(await nftTables(), table);

    // A harness in another test process that leases the address first reaps it just the same.
    await reapStaleTestHosts();
    assertEquals(await alive(), [], "the orphan is killed");
    assert(!(await nftTables()).includes(table), "its firewall table is removed");
    assert(!(await exists(crashed.dir)), "its folder is removed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a fixture toplevel builds on a test host from its copied derivation (buildOn remote)", async () => {
  await using testHosts = await startTestHosts(1, { names: ["web1"] });
  const web1 = testHosts.host("web1");
  await using flake = await createFixtureFlake(
    fixtureHostsFor(testHosts.hosts, { buildOn: "remote" }),
  );
  // A marker never built before, so the outer store cannot have the output.
  await flake.update({ web1: { toplevel: { marker: `remote-${crypto.randomUUID()}` } } });
  const drvPath = JSON.parse(
    await runner.text({ argv: ["nix", "eval", "--json", `${flake.toplevelRef("web1")}.drvPath`] }),
  ) as string;
  await runner.run({
    argv: ["nix", "copy", "--derivation", "--no-check-sigs", "--to", web1.storeUrl, drvPath],
    env: testHosts.nixSshEnv,
  });
  const built = (await web1.ssh(["nix-store", "--realise", drvPath])).stdout.trim();
  assertStringIncludes(built, "-nixos-system-web1-remote-");
  assert(await exists(web1.hostPath(built)), "the output is in web1's store");
  assert(!(await exists(built)), "and not in the outer store");
});
