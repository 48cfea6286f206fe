// Integration tests of `deploy` with the real nix, real sshd test hosts and the fixture flake.
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
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
  const out: string[] = [];
  const err: string[] = [];
  const log = console.log;
  const error = console.error;
  console.log = (...parts: unknown[]) => out.push(parts.join(" "));
  console.error = (...parts: unknown[]) => err.push(parts.join(" "));
  try {
    const code = await main(args, seams);
    const stdout = out.join("\n");
    const outcome: Outcome = { code, stdout, stderr: err.join("\n") };
    if (args.includes("--json") && stdout.startsWith("{")) outcome.report = JSON.parse(stdout);
    return outcome;
  } finally {
    console.log = log;
    console.error = error;
  }
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
    "--no-check-sigs",
    "--connect-timeout",
    "2",
    "--ssh-option",
    `IdentityFile=${hosts.clientKey}`,
    "--ssh-option",
    "IdentitiesOnly=yes",
    "--ssh-option",
    "IdentityAgent=none",
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
