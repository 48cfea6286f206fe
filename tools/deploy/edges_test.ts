// Deploy at its edges, as users run it (`deno task deploy` on the sshd test hosts): IPv6
// addresses, long host names, a TMPDIR outside /tmp, list-valued ssh options, escape sequences
// from facts and targets, a copy that never ends, a target's own words, a closed terminal and a
// narrow one.
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { createFixtureFlake } from "../testing/fixture_flake.ts";
import { shellQuote } from "../lib/quote.ts";
import { hasControl } from "../lib/terminal.ts";
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

/** Facts for deploys that must succeed: a confirm window no load on this machine outlasts. */
const patient = () => ({ facts: { confirmTimeout: 60 } });

/** A fixture flake with one host of this name, served by one test host. */
async function namedHost(name: string) {
  const hosts = await startTestHosts(1, { names: ["m"] });
  const [m] = hosts.hosts;
  const flake = await createFixtureFlake([
    { name, hostPublicKey: m!.hostPublicKey, facts: { address: m!.address, confirmTimeout: 60 } },
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
  await using f = await fleet(1, patient);
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
  await using f = await fleet(1, patient);
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
  await using f = await fleet(1, patient);
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

Deno.test("deploy: escape sequences from facts and from the target reach no output raw", async () => {
  await using f = await fleet(1);
  // An ESC in the fact (a health check may hold one) and a target that prints an OSC title and a
  // clear-screen on stderr, then fails: its line becomes the host's error.
  const check = `printf '\\033]0;PWNED\\007\\033[2Jgone\\n' >&2; exit 1 #${ESC}[8mhidden${ESC}[0m`;
  await f.flake.update({ web1: { facts: { healthChecks: [check] }, toplevel: { marker: "2" } } });
  // Plain output (not a terminal): the deployer itself writes no escape sequence either.
  const plain = await runTask(
    f.flake.dir,
    "deploy",
    f.args("web1").filter((a) => a !== "--json"),
    { bin: f.bin },
  );
  assertEquals(plain.code, 1, plain.stderr);
  for (const [name, text] of [["stdout", plain.stdout], ["stderr", plain.stderr]]) {
    assert(!hasControl(text!), `a control character on ${name}: ${text}`);
  }
  // Shown escaped: the user sees what the target sent.
  assertStringIncludes(plain.stdout, "\\x1b]0;PWNED\\x07\\x1b[2Jgone");
  assertStringIncludes(plain.stderr, "#\\x1b[8mhidden");
});

Deno.test("deploy: an invalid host name with an escape sequence is shown escaped", async () => {
  await using f = await fleet(1);
  const flakeNix = await Deno.readTextFile(f.flake.path("flake.nix"));
  const evil = `x${ESC}]0;TITLE\x07${ESC}[2J`;
  await Deno.writeTextFile(
    f.flake.path("flake.nix"),
    flakeNix.replace(
      "hosts = builtins.mapAttrs (name: host: host.facts) fixture.hosts;",
      `hosts = builtins.mapAttrs (name: host: host.facts) fixture.hosts // { "${evil}" = { }; };`,
    ),
  );
  await f.flake.git("add", "-A");
  await f.flake.git("commit", "-q", "-m", "a host name with escapes");
  const run = await runTask(f.flake.dir, "deploy", f.args("--all"), { bin: f.bin });
  assertEquals(run.code, 1, run.stderr);
  assert(!run.stderr.includes(ESC) && !run.stderr.includes("\x07"), run.stderr);
  assertStringIncludes(run.stderr, '"x\\x1b]0;TITLE\\x07\\x1b[2J" is not a valid host name');
});

Deno.test("deploy: a failed check's output is the target's, not ssh's", async () => {
  await using f = await fleet(1);
  const check = "echo active >&2; exit 3";
  await f.flake.update({ web1: { facts: { healthChecks: [check] }, toplevel: { marker: "2" } } });
  const run = await f.task("web1");
  const report = hostReport(run.report, "web1");
  assertEquals(run.code, 1, run.stderr);
  assertEquals(report.error, `Health check "${check}" failed: target: active`);
});

Deno.test("deploy: SIGHUP (a closed terminal) ends the deploy like SIGTERM: host states printed", async () => {
  await using f = await fleet(1, () => ({
    facts: { confirmTimeout: 20, healthChecks: ["sleep 600"], healthCheckTimeout: 60 },
  }));
  const [web1] = f.list;
  const run = f.spawn("web1");
  const pid = await run.deployerPid();
  const dir = await waitFor("the deployer's temp folder", () => runDirOf(pid));
  await waitFor("the activation", async () => {
    return Object.values(await supervisorStates(web1!)).includes("activated");
  });
  Deno.kill(pid, "SIGHUP");
  const out = await run.done;
  assertEquals(out.code, 129, out.stderr);
  assertEquals((out.report as { interrupted?: string } | undefined)?.interrupted, "SIGHUP");
  assertEquals(hostReport(out.report, "web1").outcome?.kind, "interrupted");
  assertStringIncludes(out.stderr, "SIGHUP: stopping");
  // As after SIGTERM: the host's supervisor still waits, so the owner file alone is left,
  // unlocked, as the proof that this deployer is gone; a rerun from a new terminal takes over.
  assertEquals(hostReport(out.report, "web1").rolledBack, "expected");
  assertEquals(
    (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name),
    ["owner"],
    "only the owner file is left",
  );
  assertEquals(await localProcessesWith(dir), [], "processes of the run left");
  await f.flake.update({ web1: { facts: { healthChecks: [] } } });
  const rerun = await f.task("web1");
  assertEquals(rerun.code, 0, rerun.stderr);
  assert(hostReport(rerun.report, "web1").adoptedRun !== undefined, "the run is taken over");
  assertEquals(
    (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name),
    ["owner"],
    "the proof stays for other reruns; nothing else",
  );
});

Deno.test("deploy: a target whose /nix is full says no space left", async () => {
  await using f = await fleet(1);
  const [web1] = f.list;
  const tmpfs = await Deno.makeTempDir({ prefix: "deploy-full-nix-" });
  await web1!.kill();
  await runProgramOk(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", tmpfs]);
  try {
    await runProgramOk(["cp", "-a", `${web1!.nixDir}/.`, `${tmpfs}/`]);
    await runProgramOk(["mount", "--bind", tmpfs, web1!.nixDir]);
    try {
      await web1!.start();
      // Full: one big file, then small files until no inode or block is left.
      await new Deno.Command("dd", {
        args: ["if=/dev/zero", `of=${web1!.nixDir}/filler`, "bs=64k"],
        stderr: "null",
      }).output();
      await new Deno.Command("sh", {
        args: ["-c", 'i=0; while echo x > "$0/f$i" 2>/dev/null; do i=$((i+1)); done', web1!.nixDir],
      }).output();
      await f.flake.update({ web1: { toplevel: { marker: "2" } } });
      const run = await f.task("web1");
      const report = hostReport(run.report, "web1");
      assertEquals([run.code, report.failedStep], [1, "copy"], run.stderr);
      assertStringIncludes(report.error?.toLowerCase() ?? "", "no space left");
    } finally {
      await web1!.kill();
      await runProgramOk(["umount", web1!.nixDir]);
    }
  } finally {
    await runProgramOk(["umount", tmpfs]);
    await Deno.remove(tmpfs, { recursive: true });
  }
});

Deno.test("deploy: live progress on a 60-column terminal fits each line to its width", async () => {
  await using f = await fleet(2);
  const check = "sleep 1; test -e /run/current-system || " +
    "{ echo the readiness probe of the service did not answer; exit 1; }";
  await f.flake.update({
    web1: { facts: { healthChecks: [check], confirmTimeout: 60 } },
    web2: { facts: { healthChecks: [check], confirmTimeout: 60 } },
  });
  const typescript = await Deno.makeTempFile({ prefix: "deploy-tty-" });
  try {
    const args = f.args("--all").filter((a) => a !== "--json").map(shellQuote).join(" ");
    // A terminal of 60 columns (script(1) gives the deployer a pty): stderr is the terminal.
    const command = `stty cols 60 rows 40; cd ${shellQuote(f.flake.dir)} && ` +
      `PATH=${shellQuote(f.bin.dir)} NO_COLOR=1 deno task -q deploy ${args} 2>&1 >/dev/null`;
    const run = await new Deno.Command("script", {
      args: ["-qfec", command, typescript],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    const screen = await Deno.readTextFile(typescript);
    assertEquals(run.code, 0, screen);
    // Each progress row is drawn after an erase-line; one wider than the terminal would wrap
    // onto a second row that the next redraw (one row up per host) never erases.
    const rows = screen.split(`${ESC}[2K`).slice(1).map((r) => r.split(/[\r\n]/)[0]!);
    assert(rows.length > 0, `no live progress drawn: ${JSON.stringify(screen)}`);
    for (const row of rows) assert([...row].length < 60, `wider than the terminal: ${row}`);
    assert(rows.some((r) => r.includes("checking: sleep 1; test") && r.endsWith("…")), screen);
  } finally {
    await Deno.remove(typescript);
  }
});

Deno.test("deploy --ask on a terminal asks on stderr: --json on stdout stays JSON, and no activates nothing", async () => {
  await using f = await fleet(1, patient);
  const out = await Deno.makeTempDir();
  try {
    const deploy = [`${f.bin.dir}/deno`, "task", "-q", "deploy", ...f.args("--ask", "web1")];
    // --ask needs a terminal: script(1) gives the task one; stdout goes to a file, the question
    // (and the answer typed ahead) through the terminal.
    const command = `${deploy.map(shellQuote).join(" ")} > ${shellQuote(`${out}/report.json`)}`;
    const child = new Deno.Command("/usr/bin/script", {
      args: ["-qec", command, "/dev/null"],
      cwd: f.flake.dir,
      env: { PATH: f.bin.dir, NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const answer = child.stdin.getWriter();
    await answer.write(new TextEncoder().encode("n\n"));
    const result = await child.output();
    await answer.close().catch(() => {});
    const terminal = new TextDecoder().decode(result.stdout);
    assertEquals(result.code, 1, terminal);
    assertStringIncludes(terminal, "Activate web1? [y/N]");
    const report = JSON.parse(await Deno.readTextFile(`${out}/report.json`));
    const web1 = hostReport(report, "web1");
    assertEquals([web1.result, web1.failedStep], ["failed", "ask"]);
    assertStringIncludes(web1.error ?? "", "not activated: the answer was no");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
