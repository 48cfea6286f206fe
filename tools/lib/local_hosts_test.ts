// Regression tests of the harness' clean-up (its behaviour is tested in
// tools/testing/test_hosts_test.ts).
import { assertEquals } from "../testing/assert.ts";
import { startTestHosts } from "./local_hosts.ts";

async function pidsWithMountsFrom(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const mounts = await Deno.readTextFile(`/proc/${entry.name}/mountinfo`).catch(() => "");
    if (mounts.includes(`${dir}/hosts/`)) pids.push(Number(entry.name));
  }
  return pids;
}

Deno.test("dispose kills a host's processes even when its init died first (Ctrl-C to the group)", async () => {
  const hosts = await startTestHosts(1);
  const dir = hosts.dir;
  try {
    const [host] = hosts.hosts;
    await host!.ssh("setsid sleep 300 </dev/null >/dev/null 2>&1 &");
    const processes = await host!.processes();
    const cmdlines = await Promise.all(
      processes.map((pid) => Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "")),
    );
    const init = processes.filter((_, i) => cmdlines[i] === "sleep\0infinity\0");
    assertEquals(init.length, 1, "one init");
    // What a terminal's SIGINT does to the host's init: it dies, its namespace's others live on.
    Deno.kill(init[0]!, "SIGKILL");
    // Once the harness has seen its init end, the host lists no processes of its own.
    for (let round = 0; round < 500 && (await host!.processes()).length > 0; round++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assertEquals(await host!.processes(), []);
    assertEquals((await pidsWithMountsFrom(dir)).length > 0, true, "the session's sleep lives");
  } finally {
    await hosts[Symbol.asyncDispose]();
  }
  assertEquals(await pidsWithMountsFrom(dir), []);
  assertEquals(await Deno.stat(dir).then(() => true, () => false), false);
});
