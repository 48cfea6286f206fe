// `deno task status` as users run it, against sshd test hosts deployed with `deno task deploy`:
// in step; behind the repository (--eval); switched by hand (changed outside deploy); hostile
// unit names and record fields (escaped, never raw); a host key mismatch (refused, diagnosed);
// a frozen host (bounded, reported).
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/assert.ts";
import { hasControl } from "../lib/terminal.ts";
import { FIXTURE_STATE } from "../testing/fixture_flake.ts";
import { runTask } from "../testing/task.ts";
import { keygen } from "../testing/test_hosts.ts";
import {
  clientFlags,
  hostFacts,
  statusFleet,
  type StatusOutcome,
  switchByHand,
} from "./_test_fleet.ts";

function hostOf(outcome: StatusOutcome, host: string): Record<string, unknown> {
  const found = outcome.report?.hosts.find((h) => h.host === host);
  if (found === undefined) {
    throw new Error(`no status of ${host}: ${outcome.stdout}${outcome.stderr}`);
  }
  return found;
}

/** The table row of `host` (the line that starts with its name). */
function rowOf(table: string, host: string): string {
  const row = table.split("\n").find((l) => l.startsWith(`${host} `));
  if (row === undefined) throw new Error(`no row of ${host} in:\n${table}`);
  return row;
}

Deno.test("deno task status: in step, behind (--eval), changed by hand, hostile values, key mismatch, frozen", async (t) => {
  await using fleet = await statusFleet(4);
  await fleet.deploy("--all");
  const [web1, web2, web3, web4] = fleet.list;

  await t.step("every host deployed and running what deploy left: exit 0, in step", async () => {
    const table = await fleet.status();
    assertEquals(table.code, 0, table.stdout + table.stderr);
    for (const host of ["web1", "web2", "web3", "web4"]) {
      assertMatch(rowOf(table.stdout, host), /\bin-step\b.*in step, healthy$/);
    }
    assertMatch(
      table.stdout,
      /^web1: last deploy run [0-9a-f]+ by .*: gen - → 1, .*: confirmed$/m,
    );
    const json = await fleet.status("--json", "--tag", "web");
    assertEquals(json.code, 0, json.stderr);
    assertEquals(json.report?.healthy, true);
    assertEquals(json.report?.hosts.map((h) => h.host), ["web1", "web2", "web3", "web4"]);
    assertEquals(hostOf(json, "web1").generation, 1);
    assertEquals(hostOf(json, "web1").system, await web1!.resolve("/run/current-system"));
  });

  await t.step(
    "a new commit not yet deployed: --eval says behind, exit 1; without it in step",
    async () => {
      await fleet.flake.update({ web3: { toplevel: { marker: "2" } } });
      const evaluated = await fleet.status("--json", "--eval", "web3");
      assertEquals(evaluated.code, 1, evaluated.stdout + evaluated.stderr);
      const drift = hostOf(evaluated, "web3").drift as { kind: string; evaluated: string };
      assertEquals(drift.kind, "behind");
      assertMatch(drift.evaluated, /-nixos-system-web3-2$/);
      const plain = await fleet.status("web3");
      assertEquals(plain.code, 0, plain.stdout + plain.stderr);
      const deployed = await fleet.deploy("web3");
      assertEquals(deployed.code, 0);
      const after = await fleet.status("--eval", "web3");
      assertEquals(after.code, 0, after.stdout + after.stderr);
    },
  );

  await t.step("a host switched by hand: changed outside deploy, exit 1", async () => {
    await fleet.flake.update({ web2: { toplevel: { marker: "by-hand" } } });
    const system = await fleet.flake.buildToplevel("web2");
    await switchByHand(fleet.hosts, web2!, system);
    const outcome = await fleet.status("web1", "web2");
    assertEquals(outcome.code, 1, outcome.stdout + outcome.stderr);
    assertMatch(rowOf(outcome.stdout, "web2"), /changed-outside-deploy .*changed outside deploy$/);
    assertMatch(rowOf(outcome.stdout, "web1"), /in step, healthy$/);
    const json = await fleet.status("--json", "web2");
    assertEquals(hostOf(json, "web2").drift, { kind: "changed-outside-deploy", running: system });
    assertEquals(hostOf(json, "web2").generation, 2);
    // The node exporter's metrics, from the same definitions, agree.
    assertEquals((await hostFacts(web2!)).get("devops_system_drift"), "1");
    assertEquals((await hostFacts(web1!)).get("devops_system_drift"), "0");
  });

  await t.step("hostile unit names and record fields reach the terminal escaped", async () => {
    const evil = "evil\x1b]0;owned\x07\x1b[2J\x9b31m.service";
    await Deno.writeTextFile(web4!.hostPath(FIXTURE_STATE.failedUnits), `${evil}\nplain.service\n`);
    const record = web4!.hostPath("/nix/var/devops-deploy/last-deploy");
    const text = await Deno.readTextFile(record);
    await Deno.writeTextFile(record, text.replace(/^by=.*$/m, "by=mallory\x1b[8m"));
    for (const args of [["web4"], ["--json", "web4"]]) {
      const outcome = await fleet.status(...args);
      assertEquals(outcome.code, 1, outcome.stdout + outcome.stderr);
      assert(!hasControl(outcome.stdout), `a raw control character: ${outcome.stdout}`);
      assert(!hasControl(outcome.stderr), `a raw control character: ${outcome.stderr}`);
    }
    const table = await fleet.status("web4");
    assertStringIncludes(table.stdout, "evil\\x1b]0;owned\\x07\\x1b[2J\\x9b31m.service");
    assertStringIncludes(table.stdout, "2 failed units:");
    assertStringIncludes(table.stdout, "by mallory\\x1b[8m");
    const json = await fleet.status("--json", "web4");
    // JSON keeps the name as it is (escaped as JSON): scripts get the real value.
    assertEquals(hostOf(json, "web4").failedUnits, {
      kind: "listed",
      units: [evil, "plain.service"],
    });
  });

  await t.step("a host presenting another key: refused, both fingerprints shown", async () => {
    const pub = fleet.flake.path("configurations/web1/ssh_host_ed25519_key.pub");
    const original = await Deno.readTextFile(pub);
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(pub, await keygen(`${dir}/other`, "not-web1"));
      const outcome = await fleet.status("web1", "web3");
      assertEquals(outcome.code, 1, outcome.stdout + outcome.stderr);
      const row = rowOf(outcome.stdout, "web1");
      assertMatch(
        row,
        /unreachable \(host-key-mismatch\): Host key mismatch for "web1" at 127\.0\.0\.\d+:22: expected SHA256:\S+ .*the host presented SHA256:/,
      );
      assertMatch(rowOf(outcome.stdout, "web3"), /in step, healthy$/);
    } finally {
      await Deno.writeTextFile(pub, original);
      await Deno.remove(dir, { recursive: true });
    }
  });

  await t.step(
    "a frozen host (sshd stopped): bounded by --timeout, reported, the others shown",
    async () => {
      await web3!.freeze();
      try {
        const outcome = await fleet.status("--json", "--timeout", "3", "web1", "web3");
        assertEquals(outcome.code, 1, outcome.stdout + outcome.stderr);
        assertEquals(hostOf(outcome, "web3").kind, "unreachable");
        assertEquals(hostOf(outcome, "web3").reason, "timed-out");
        assertEquals(hostOf(outcome, "web1").kind, "reachable");
        const table = await fleet.status("--timeout", "3", "web3");
        assertMatch(rowOf(table.stdout, "web3"), /unreachable \(timed-out\)/);
      } finally {
        await web3!.thaw();
      }
    },
  );
});

Deno.test("deno task status: an unknown host is a usage error naming the known ones", async () => {
  await using fleet = await statusFleet(1);
  const outcome = await runTask(fleet.flake.dir, "status", ["nosuch"], { bin: fleet.bin });
  assertEquals(outcome.code, 2, outcome.stderr);
  assertEquals(
    outcome.stderr.trim(),
    'error: Cannot show the status of "nosuch": no such host; known hosts: web1',
  );
});

Deno.test("deno task status: --watch beyond a day is a usage error (a longer timer would fire at once)", async () => {
  await using fleet = await statusFleet(1);
  const outcome = await runTask(fleet.flake.dir, "status", ["--watch", "2147484", "web1"], {
    bin: fleet.bin,
  });
  assertEquals(outcome.code, 2, outcome.stderr);
  assertEquals(
    outcome.stderr.trim(),
    "error: Invalid --watch 2147484: at most 86400 seconds (a day); use cron for longer",
  );
});

Deno.test("deno task status --watch shows the table again until it is stopped", async () => {
  await using fleet = await statusFleet(1);
  await fleet.deploy("web1");
  const child = new Deno.Command(`${fleet.bin.dir}/deno`, {
    args: ["task", "-q", "status", ...clientFlags(fleet.hosts), "--watch", "1", "web1"],
    cwd: fleet.flake.dir,
    env: { PATH: fleet.bin.dir, NO_COLOR: "1", INIT_CWD: fleet.flake.dir },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  let seen = "";
  try {
    const decoder = new TextDecoder();
    for await (const chunk of child.stdout) {
      seen += decoder.decode(chunk, { stream: true });
      if (seen.split("\nweb1: last deploy").length - 1 >= 2) break;
    }
  } finally {
    // The task's deno run (its child) ends; the task then exits.
    for (const pid of await childrenOf(child.pid)) Deno.kill(pid, "SIGTERM");
    await child.status;
    await stderr;
  }
  const tables = seen.split("\n").filter((line) => line.startsWith("HOST "));
  assertEquals(tables.length >= 2, true, seen);
  assertEquals(hasControl(seen), false, "no screen clearing without a terminal");
  assertMatch(seen, /^web1 .*in step, healthy$/m);
});

/** The pids whose parent is `pid`. */
async function childrenOf(pid: number): Promise<number[]> {
  const found: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const status = await Deno.readTextFile(`/proc/${entry.name}/status`).catch(() => "");
    if (new RegExp(`^PPid:\\s+${pid}$`, "m").test(status)) found.push(Number(entry.name));
  }
  return found;
}
