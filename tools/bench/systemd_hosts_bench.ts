// How fast systemd test hosts boot and how much memory each takes: `deno task
// bench:systemd-hosts [--hosts N] [--runs N]`. Boots N hosts (default 4) at once until each answers
// `ssh true` (first with the harness' preparation, then the boot alone: shut down and booted
// again at once), then sums the proportional set size (Pss) of every process in each host's cgroup
// (nspawn included). Targets (issue 23): 4 hosts to SSH in ≤ 5 s, ≤ 50 MB per host.
import { startSystemdHosts } from "../testing/systemd_hosts.ts";
import { benchArgsOrExit } from "./bench_args.ts";
import { median } from "./timing.ts";

const BOOT_TARGET_MS = 5000;
const MEMORY_TARGET_MB = 50;

async function pssKb(pid: number): Promise<number> {
  const text = await Deno.readTextFile(`/proc/${pid}/smaps_rollup`).catch(() => "");
  return Number(/^Pss:\s+(\d+) kB$/m.exec(text)?.[1] ?? 0);
}

async function main(args: string[]): Promise<void> {
  const { hosts, runs } = benchArgsOrExit(args, {
    task: "bench:systemd-hosts",
    summary: "Boots systemd test hosts at once until each answers ssh, and measures the memory " +
      "each takes (root).",
    defaultRuns: 3,
    defaultHosts: 4,
  });
  const count = hosts ?? 4;
  const starts: number[] = [];
  const boots: number[] = [];
  const memory: number[] = [];
  for (let run = 0; run < runs; run++) {
    const started = performance.now();
    await using hosts = await startSystemdHosts(count);
    await Promise.all(hosts.hosts.map(async (host) => {
      if (!(await host.canConnect(10))) throw new Error(`${host.name} does not answer`);
    }));
    starts.push(performance.now() - started);
    for (const host of hosts.hosts) {
      const pids = await host.processes();
      const kb = (await Promise.all(pids.map(pssKb))).reduce((a, b) => a + b, 0);
      memory.push(kb / 1024);
    }
    // The boot alone: the prepared hosts shut down, then booted again at once.
    await Promise.all(hosts.hosts.map((host) => host.stop()));
    const booting = performance.now();
    await Promise.all(hosts.hosts.map(async (host) => {
      await host.start();
      if (!(await host.canConnect(10))) throw new Error(`${host.name} does not answer`);
    }));
    boots.push(performance.now() - booting);
  }
  const bootMs = median(boots);
  const mb = median(memory);
  console.log(
    `${count} systemd hosts booted to SSH at once: median ${bootMs.toFixed(0)} ms (${
      boots.map((b) => b.toFixed(0)).join(", ")
    }); target ≤ ${BOOT_TARGET_MS} ms: ${bootMs <= BOOT_TARGET_MS ? "met" : "missed"}`,
  );
  console.log(
    `the same with the harness' preparation (keys, /etc overlays, users): median ${
      median(starts).toFixed(0)
    } ms (${starts.map((b) => b.toFixed(0)).join(", ")})`,
  );
  console.log(
    `memory per host (Pss of its cgroup's processes): median ${mb.toFixed(1)} MB, max ${
      Math.max(...memory).toFixed(1)
    } MB; target ≤ ${MEMORY_TARGET_MB} MB: ${mb <= MEMORY_TARGET_MB ? "met" : "missed"}`,
  );
}

if (import.meta.main) await main(Deno.args);
