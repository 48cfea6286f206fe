// Deploy at its edges, as users run it (`deno task deploy` on the sshd test hosts): IPv6
// addresses, long host names, a TMPDIR outside /tmp, list-valued ssh options, escape sequences
// from facts and targets, a copy that never ends, a target's own words, a closed terminal and a
// narrow one.
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { createFixtureFlake } from "../testing/fixture_flake.ts";
import { runProgramOk } from "../testing/run.ts";
import { installToolkit, runTask } from "../testing/task.ts";
import { startTestHosts } from "../testing/test_hosts.ts";
import { testHostFlags } from "./_test_flags.ts";
import {
  active,
  fleet,
  hostReport,
  localProcessesWith,
  runDirOf,
  supervisorStates,
  waitFor,
} from "./_test_fleet.ts";

const ESC = "\x1b";

/** A fixture flake with one host of this name, served by one test host. */
async function namedHost(name: string) {
  const hosts = await startTestHosts(1, { names: ["m"] });
  const [m] = hosts.hosts;
  const flake = await createFixtureFlake([
    { name, hostPublicKey: m!.hostPublicKey, facts: { address: m!.address, confirmTimeout: 3 } },
  ]);
  await installToolkit(flake.dir);
  await Deno.writeTextFile(flake.path(".git/info/exclude"), "/deno.json\n/deno.lock\n/tools/\n");
  return {
    hosts,
    host: m!,
    flake,
    async [Symbol.asyncDispose]() {
      await flake[Symbol.asyncDispose]();
      await hosts[Symbol.asyncDispose]();
    },
  };
}

Deno.test("deploy: an IPv6 address in the facts is deployed (the store URL names the host)", async () => {
  await using f = await fleet(1);
  const [web1] = f.list;
  // The IPv4-mapped IPv6 form of the test host's address: IPv6 to ssh, the same host.
  await f.flake.update({ web1: { facts: { address: `[::ffff:${web1!.address}]` } } });
  const run = await f.task("web1");
  const report = hostReport(run.report, "web1");
  assertEquals(
    [run.code, report.result, report.error],
    [0, "ok", undefined],
    run.stderr,
  );
  assertEquals(report.address, `::ffff:${web1!.address}`);
  assertEquals(await active(web1!), report.path);
});

Deno.test("deploy: a 63-character host name is deployed (short control socket)", async () => {
  const name = `h${"x".repeat(61)}1`;
  await using t = await namedHost(name);
  const run = await runTask(t.flake.dir, "deploy", [
    ...testHostFlags(t.hosts),
    "--json",
    name,
  ]);
  assertEquals(run.code, 0, run.stdout + run.stderr);
  assertEquals(await active(t.host), JSON.parse(run.stdout).hosts[0].path);
});

Deno.test("deploy: a TMPDIR outside /tmp changes nothing (the run's folder is under /tmp)", async () => {
  await using f = await fleet(1);
  const tmpdir = await Deno.makeTempDir({ dir: "/var/tmp", prefix: "deploy-tmpdir-test-" });
  try {
    const run = await runTask(f.flake.dir, "deploy", f.args("web1"), {
      bin: f.bin,
      env: { TMPDIR: tmpdir },
    });
    assertEquals(run.code, 0, run.stderr);
    assertEquals([...Deno.readDirSync(tmpdir)], [], "nothing written to TMPDIR");
  } finally {
    await Deno.remove(tmpdir, { recursive: true });
  }
});

Deno.test("deploy: --ssh-option keeps a list value whole (Ciphers a,b)", async () => {
  await using f = await fleet(1);
  const good = await f.task("--ssh-option", "Ciphers=aes128-ctr,aes256-ctr", "web1");
  assertEquals([good.code, hostReport(good.report, "web1").result], [0, "ok"], good.stderr);
  // Every ssh of the deploy gets the value as one option.
  const shown = await runTask(
    f.flake.dir,
    "deploy",
    f.args("--dry-run", "--ssh-option", "ProxyJump=admin@jump1,admin@jump2", "web1"),
    { bin: f.bin },
  );
  assertEquals(shown.code, 0, shown.stderr);
  assertStringIncludes(shown.stdout, "ProxyJump=admin@jump1,admin@jump2");
});

Deno.test("deploy: a copy to a target whose store waits on a lock ends at copyTimeout, one line", async () => {
  await using f = await fleet(1, () => ({ facts: { copyTimeout: 3 } }));
  const [web1] = f.list;
  const before = await active(web1!);
  await f.flake.update({ web1: { toplevel: { marker: "2" } } });
  const path = await f.flake.buildToplevel("web1");
  // Another process on the target holds the path's lock, as a concurrent copy or build does.
  const lock = `${web1!.nixDir}/store/${path.split("/").pop()}.lock`;
  const holder = new Deno.Command("flock", { args: [lock, "sleep", "600"] }).spawn();
  try {
    await waitFor("the lock taken", async () => {
      const probe = await new Deno.Command("flock", { args: ["-n", lock, "true"] }).output();
      return probe.code !== 0;
    });
    const run = await f.task("web1");
    const report = hostReport(run.report, "web1");
    assertEquals([run.code, report.failedStep], [1, "copy"], run.stderr);
    assertStringIncludes(report.error ?? "", "nix copy did not end within 3 s (copyTimeout)");
    assertEquals(await active(web1!), before);
  } finally {
    holder.kill("SIGKILL");
    await holder.status;
  }
});
