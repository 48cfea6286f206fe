// Integration tests of `deploy` with the real nix, real sshd test hosts and the fixture flake.
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { captureMain } from "../testing/capture.ts";
import { testHostFlags } from "./_test_flags.ts";
import { createFixtureFlake, FIXTURE_STATE, type FixtureHost } from "../testing/fixture_flake.ts";
import { startTestHosts, type TestHost, type TestHosts } from "../testing/test_hosts.ts";
import { main, type MainOptions } from "./main.ts";
import type { DeployReport } from "./report.ts";

const PROFILE = "/nix/var/nix/profiles/system";

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
  report?: DeployReport;
}

/** Runs main() in-process, collecting what it prints. */
async function deploy(args: string[], seams: MainOptions = {}): Promise<Outcome> {
  const outcome: Outcome = await captureMain(() => main(args, seams));
  if (args.includes("--json") && outcome.stdout.startsWith("{")) {
    outcome.report = JSON.parse(outcome.stdout);
  }
  return outcome;
}

async function fleet(count: number, extra: (i: number) => Partial<FixtureHost> = () => ({})) {
  const hosts = await startTestHosts(count, {
    names: Array.from({ length: count }, (_, i) => `web${i + 1}`),
  });
  const flake = await createFixtureFlake(hosts.hosts.map((h, i) => ({
    name: h.name,
    hostPublicKey: h.hostPublicKey,
    ...extra(i),
    facts: { address: h.address, confirmTimeout: 3, tags: ["web"], ...extra(i).facts },
  })));
  const args = (...rest: string[]) => [
    "--repo",
    flake.dir,
    ...testHostFlags(hosts),
    "--connect-timeout",
    "2",
    "--json",
    ...rest,
  ];
  return {
    hosts,
    flake,
    args,
    async [Symbol.asyncDispose]() {
      await flake[Symbol.asyncDispose]();
      await hosts[Symbol.asyncDispose]();
    },
  };
}

async function generation(host: TestHost): Promise<number | undefined> {
  const link = await Deno.readLink(host.hostPath(PROFILE)).catch(() => undefined);
  return link === undefined ? undefined : Number(link.replace(/^system-(\d+)-link$/, "$1"));
}

async function active(host: TestHost): Promise<string | undefined> {
  return await host.resolve("/run/current-system").catch(() => undefined);
}

async function activations(host: TestHost): Promise<string[]> {
  const text = await Deno.readTextFile(host.hostPath(FIXTURE_STATE.activations)).catch(() => "");
  return text.split("\n").filter(Boolean);
}

function hostReport(report: DeployReport | undefined, host: string) {
  const found = report?.hosts.find((h) => h.host === host);
  assert(found, `no report for ${host}`);
  return found;
}

async function storeHas(host: TestHost, path: string): Promise<boolean> {
  return await Deno.lstat(host.hostPath(path)).then(() => true, () => false);
}

function hostsOf(f: { hosts: TestHosts }) {
  return f.hosts.hosts;
}

Deno.test("deploy switches one host: profile and active system change; a redeploy shows the diff", async () => {
  await using f = await fleet(1);
  const [web1] = hostsOf(f);
  const first = await f.flake.buildToplevel("web1");
  const run = await deploy(f.args("web1"));
  assertEquals(run.code, 0, run.stderr);
  assertEquals(await generation(web1!), 1);
  assertEquals(await web1!.resolve(PROFILE), first);
  assertEquals(await active(web1!), first);
  const r1 = hostReport(run.report, "web1");
  assertEquals([r1.result, r1.status, r1.newGeneration, r1.rolledBack], [
    "ok",
    "confirmed",
    1,
    false,
  ]);

  await f.flake.update({ web1: { toplevel: { marker: "2" } } });
  const second = await f.flake.buildToplevel("web1");
  const again = await deploy(f.args("web1"));
  assertEquals(again.code, 0, again.stderr);
  assertEquals(await generation(web1!), 2);
  assertEquals(await active(web1!), second);
  const r2 = hostReport(again.report, "web1");
  assertEquals([r2.previousGeneration, r2.newGeneration, r2.activeGeneration], [1, 2, 2]);
  assert(r2.closureDiff !== undefined, "a closure diff against the previous system");
  assertStringIncludes(r2.closureDiff, "nixos-system-web1");
});

Deno.test("deploy runs three hosts in parallel, selected by tag: their activations overlap", async () => {
  await using f = await fleet(3, () => ({ toplevel: { activationSeconds: 1 } }));
  const run = await deploy(f.args("--tag", "web"));
  assertEquals(run.code, 0, run.stderr);
  assertEquals(run.report!.hosts.map((h) => [h.host, h.result, h.newGeneration]), [
    ["web1", "ok", 1],
    ["web2", "ok", 1],
    ["web3", "ok", 1],
  ]);
  // Each host's own clock: its activation starts when switch-to-configuration records the call
  // and ends when it writes the current system (a second later). One after the other, a host
  // would start only after another had ended.
  const spans = [];
  for (const host of hostsOf(f)) {
    assertEquals(await active(host), await f.flake.buildToplevel(host.name));
    const start = (await Deno.stat(host.hostPath(FIXTURE_STATE.activations))).mtime!.getTime();
    const end = (await Deno.stat(host.hostPath(FIXTURE_STATE.currentSystem))).mtime!.getTime();
    spans.push({ start, end });
  }
  const lastStart = Math.max(...spans.map((s) => s.start));
  const firstEnd = Math.min(...spans.map((s) => s.end));
  assert(lastStart < firstEnd, `all three activations overlap: ${JSON.stringify(spans)}`);
});

Deno.test("deploy keeps going when one host is down; report and exit code name it", async () => {
  await using f = await fleet(3);
  const [, web2] = hostsOf(f);
  await web2!.stop();
  const run = await deploy(f.args("--all"));
  assertEquals(run.code, 1);
  const results = run.report!.hosts.map((h) => [h.host, h.result, h.failedStep ?? ""]);
  assertEquals(results, [["web1", "ok", ""], ["web2", "failed", "connect"], ["web3", "ok", ""]]);
  assertEquals(await generation(web2!), undefined);
  assertEquals(run.report!.ok, false);
});

Deno.test("deploy rolls back a failed activation; the previous generation stays active", async () => {
  await using f = await fleet(1);
  const [web1] = hostsOf(f);
  assertEquals((await deploy(f.args("web1"))).code, 0);
  const good = await f.flake.buildToplevel("web1");
  await f.flake.update({ web1: { toplevel: { marker: "2", failActivation: true } } });
  const bad = await f.flake.buildToplevel("web1");
  const run = await deploy(f.args("web1"));
  assertEquals(run.code, 1);
  const report = hostReport(run.report, "web1");
  assertEquals(
    [report.failedStep, report.status, report.rolledBack, report.activeGeneration],
    ["activate", "rolled-back-activation", true, 1],
  );
  assertEquals(await generation(web1!), 1);
  assertEquals(await web1!.resolve(PROFILE), good);
  assertEquals(await active(web1!), good);
  const calls = await activations(web1!);
  assertEquals(calls.slice(-2), [`switch ${bad}`, `switch ${good}`]);
  assert(!(await storeHas(web1!, `${PROFILE}-2-link`)), "the failed generation is deleted");
});

Deno.test("deploy: a host cut off after activation rolls itself back within the timeout", async () => {
  await using f = await fleet(1);
  const [web1] = hostsOf(f);
  assertEquals((await deploy(f.args("web1"))).code, 0);
  const good = await f.flake.buildToplevel("web1");
  await f.flake.update({ web1: { toplevel: { marker: "2" } } });
  let restored: Promise<void> | undefined;
  const run = await deploy(f.args("web1"), {
    recoveryGraceSeconds: 8,
    hooks: {
      async afterActivate() {
        await web1!.cutOff();
        // Back once the host has rolled itself back (read on the host, not over ssh): the
        // deployer then reads what the host did.
        restored = (async () => {
          const deadline = Date.now() + 30_000;
          while ((await generation(web1!)) !== 1 || (await active(web1!)) !== good) {
            if (Date.now() > deadline) throw new Error("the host did not roll back within 30 s");
            await new Promise((r) => setTimeout(r, 50));
          }
          await web1!.restore();
        })();
      },
    },
  });
  await restored;
  assertEquals(run.code, 1);
  const report = hostReport(run.report, "web1");
  assertEquals(
    [report.failedStep, report.status, report.rolledBack, report.activeGeneration],
    ["confirm", "rolled-back-timeout", true, 1],
  );
  assertEquals(await generation(web1!), 1);
  assertEquals(await active(web1!), good);
});

Deno.test("deploy: the activation survives its dropped ssh session and is confirmed after", async () => {
  await using f = await fleet(1);
  const [web1] = hostsOf(f);
  assertEquals((await deploy(f.args("web1"))).code, 0);
  await f.flake.update({ web1: { toplevel: { marker: "2", activationSeconds: 2 } } });
  const next = await f.flake.buildToplevel("web1");
  const running = deploy(f.args("web1"));
  // Once switch-to-configuration runs, kill the sshd processes of the sessions (not the
  // listener): the activation session drops, the detached supervisor lives on.
  while (!(await activations(web1!)).includes(`switch ${next}`)) {
    await new Promise((r) => setTimeout(r, 50));
  }
  for (const pid of await web1!.processes()) {
    const cmdline = await Deno.readTextFile(`/proc/${pid}/cmdline`).catch(() => "");
    if (cmdline.startsWith("sshd:") && !cmdline.includes("[listener]")) Deno.kill(pid, "SIGKILL");
  }
  const run = await running;
  assertEquals(run.code, 0, run.stderr);
  const report = hostReport(run.report, "web1");
  assertEquals([report.status, report.newGeneration, report.rolledBack], ["confirmed", 2, false]);
  assertEquals(await active(web1!), next);
});

Deno.test("deploy: a host frozen in the confirm window rolls back when it runs again", async () => {
  await using f = await fleet(1);
  const [web1] = hostsOf(f);
  assertEquals((await deploy(f.args("web1"))).code, 0);
  const good = await f.flake.buildToplevel("web1");
  await f.flake.update({ web1: { toplevel: { marker: "2" } } });
  const run = await deploy(f.args("web1", "--confirm-timeout", "2"), {
    recoveryGraceSeconds: 0,
    hooks: { afterActivate: () => web1!.freeze() },
  });
  assertEquals(run.code, 1);
  const report = hostReport(run.report, "web1");
  assertEquals([report.failedStep, report.rolledBack], ["confirm", "expected"]);
  await web1!.thaw();
  for (let i = 0; i < 50 && (await generation(web1!)) !== 1; i++) {
    await new Promise((r) => setTimeout(r, 200));
  }
  assertEquals(await generation(web1!), 1);
  for (let i = 0; i < 50 && (await active(web1!)) !== good; i++) {
    await new Promise((r) => setTimeout(r, 200));
  }
  assertEquals(await active(web1!), good);
});

Deno.test("deploy rolls back when a health check fails", async () => {
  await using f = await fleet(1);
  const [web1] = hostsOf(f);
  assertEquals((await deploy(f.args("web1"))).code, 0);
  await f.flake.update({ web1: { toplevel: { marker: "2" }, facts: { healthChecks: ["false"] } } });
  const run = await deploy(f.args("web1"));
  assertEquals(run.code, 1);
  const report = hostReport(run.report, "web1");
  assertEquals([report.failedStep, report.status, report.rolledBack], [
    "health",
    "rolled-back-health-check",
    true,
  ]);
  assertStringIncludes(report.error ?? "", 'Health check "false" failed');
  assertEquals(await generation(web1!), 1);
});

Deno.test("deploy refuses a host whose key differs from the repository's, before any copy", async () => {
  await using f = await fleet(2);
  const [web1, web2] = hostsOf(f);
  // web1's folder pins web2's key.
  await f.flake.update({ web1: { hostPublicKey: web2!.hostPublicKey } });
  const path = await f.flake.buildToplevel("web1");
  const run = await deploy(f.args("web1", "web2"));
  assertEquals(run.code, 1);
  const report = hostReport(run.report, "web1");
  assertEquals(report.failedStep, "connect");
  assertStringIncludes(report.error ?? "", 'Host key mismatch for "web1"');
  assertStringIncludes(report.error ?? "", "expected SHA256:");
  assertStringIncludes(report.error ?? "", "the host presented SHA256:");
  assert(!(await storeHas(web1!, path)), "nothing copied to the refused host");
  assertEquals(hostReport(run.report, "web2").result, "ok");
});

Deno.test("deploy --dry-run prints every command and changes no host", async () => {
  await using f = await fleet(1);
  const [web1] = hostsOf(f);
  const run = await deploy(f.args("web1", "--dry-run").filter((a) => a !== "--json"));
  assertEquals(run.code, 0, run.stderr);
  for (
    const part of [
      "ssh -M -N -f",
      "nix build --json --no-link",
      "nix copy --to ssh-ng://root@",
      "diff: ssh",
      "activate: ssh",
      "<LAUNCHER_SCRIPT>",
      "confirm: ssh",
      "StrictHostKeyChecking=yes",
    ]
  ) {
    assertStringIncludes(run.stdout, part);
  }
  assertEquals(await generation(web1!), undefined);
  assertEquals(await activations(web1!), []);
  assertEquals((await Array.fromAsync(Deno.readDir(web1!.hostPath("/nix/store")))).length, 0);
});

Deno.test("deploy --mode boot sets the profile and activates nothing", async () => {
  await using f = await fleet(1);
  const [web1] = hostsOf(f);
  const path = await f.flake.buildToplevel("web1");
  const run = await deploy(f.args("web1", "--mode", "boot"));
  assertEquals(run.code, 0, run.stderr);
  assertEquals(await generation(web1!), 1);
  assertEquals(await web1!.resolve(PROFILE), path);
  assertEquals(await active(web1!), undefined);
  assertEquals(await activations(web1!), [`boot ${path}`]);
  assertEquals(hostReport(run.report, "web1").status, "done");
});

Deno.test("deploy --mode test activates without touching the profile", async () => {
  await using f = await fleet(1);
  const [web1] = hostsOf(f);
  const path = await f.flake.buildToplevel("web1");
  const run = await deploy(f.args("web1", "--mode", "test"));
  assertEquals(run.code, 0, run.stderr);
  assertEquals(await generation(web1!), undefined);
  assertEquals(await active(web1!), path);
});

Deno.test("deploy: a bad host name and a malformed host fact are one-line errors", async () => {
  await using f = await fleet(1);
  const unknown = await deploy(f.args("web9"));
  assertEquals(unknown.code, 2);
  assertEquals(unknown.stderr, 'error: Cannot deploy "web9": no such host; known hosts: web1');
  await f.flake.update({ web1: { facts: { port: "twenty-two" as unknown as number } } });
  const malformed = await deploy(f.args("web1"));
  assertEquals(malformed.code, 1);
  assertEquals(
    malformed.stderr,
    'error: Invalid deploy facts of host "web1": port: expected number, received string',
  );
});

Deno.test("deno task deploy runs with its least-privilege permissions; --build-on remote builds on the target", async () => {
  await using f = await fleet(1);
  const [web1] = hostsOf(f);
  const path = await f.flake.buildToplevel("web1");
  const config = new URL("../../deno.json", import.meta.url).pathname;
  const output = await new Deno.Command("deno", {
    args: ["task", "-q", "--config", config, "deploy", ...f.args("web1", "--build-on", "remote")],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(output.stderr);
  assertEquals(output.code, 0, stderr);
  const report = JSON.parse(new TextDecoder().decode(output.stdout)) as DeployReport;
  assertEquals(hostReport(report, "web1").status, "confirmed");
  assertEquals(await active(web1!), path);
  const drv = (await Array.fromAsync(Deno.readDir(web1!.hostPath("/nix/store"))))
    .filter((e) => e.name.endsWith(".drv"));
  assert(drv.length > 0, "the derivation was copied and built on the target");
});
