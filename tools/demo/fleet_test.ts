// The demo fleet with the real nix: its facts, its systems and their health checks.
import { assertEquals, assertStringIncludes, assertThrows } from "../testing/assert.ts";
import { runProgram } from "../testing/run.ts";
import {
  DEMO_HEALTH_CHECK,
  demoFleetTree,
  type DemoHost,
  type DemoSystem,
  LOCAL_NIX_CONFIG,
  writeTree,
} from "./fleet.ts";

const hosts: DemoHost[] = [
  {
    name: "web1",
    address: "127.0.0.2",
    port: 22,
    user: "root",
    hostPublicKey: "ssh-ed25519 AAAA w",
  },
  {
    name: "db1",
    address: "127.0.0.3",
    port: 2222,
    user: "root",
    hostPublicKey: "ssh-ed25519 AAAA d",
  },
];

function systems(version: number, appVersion: string, broken: string[] = []) {
  return Object.fromEntries(
    hosts.map((h): [string, DemoSystem] => [h.name, {
      version,
      appVersion,
      healthy: !broken.includes(h.name),
    }]),
  );
}

/** nix with the demo's own settings only: an empty configuration folder stands for nix.conf. */
async function nix(args: string[], cwd: string) {
  const confDir = await Deno.makeTempDir({ prefix: "devops-nixconf-" });
  try {
    return await runProgram(["nix", ...args], {
      cwd,
      env: { NIX_CONFIG: LOCAL_NIX_CONFIG, NIX_CONF_DIR: confDir },
    });
  } finally {
    await Deno.remove(confDir, { recursive: true });
  }
}

async function build(dir: string, host: string): Promise<string> {
  const result = await nix([
    "build",
    "--no-link",
    "--json",
    `path:${dir}#nixosConfigurations.${host}.config.system.build.toplevel`,
  ], dir);
  assertEquals(result.code, 0, result.stderr);
  return (JSON.parse(result.stdout) as { outputs: { out: string } }[])[0]!.outputs.out;
}

Deno.test("demoFleetTree() has the real layout; lib/hosts.nix and the flake's hosts agree", async () => {
  const dir = await Deno.makeTempDir({ prefix: "devops-demo-fleet-" });
  try {
    await writeTree(dir, demoFleetTree(hosts, systems(1, "1.0")));
    const fromFile = await nix(["eval", "--json", "--file", "lib/hosts.nix"], dir);
    assertEquals(fromFile.code, 0, fromFile.stderr);
    const fromFlake = await nix(["eval", "--json", `path:${dir}#hosts`], dir);
    assertEquals(fromFlake.code, 0, fromFlake.stderr);
    const facts = JSON.parse(fromFile.stdout);
    assertEquals(JSON.parse(fromFlake.stdout), facts);
    assertEquals(Object.keys(facts), ["db1", "web1"]);
    assertEquals(facts.db1.port, 2222);
    assertEquals(facts.web1.healthChecks, [DEMO_HEALTH_CHECK]);
    assertEquals(
      await Deno.readTextFile(`${dir}/configurations/web1/ssh_host_ed25519_key.pub`),
      "ssh-ed25519 AAAA w\n",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("demo systems: the health check passes or fails as configured; the diff names the app", async () => {
  const dir = await Deno.makeTempDir({ prefix: "devops-demo-fleet-" });
  try {
    await writeTree(dir, demoFleetTree(hosts, systems(1, "1.0")));
    const first = await build(dir, "db1");
    assertStringIncludes(first, "-nixos-system-db1-1");
    const healthy = await runProgram([`${first}/bin/demo-health`]);
    assertEquals([healthy.code, healthy.stdout.trim()], [0, "db1: demo-app 1.0 answers"]);

    await writeTree(dir, demoFleetTree(hosts, systems(2, "1.1", ["db1"])));
    const second = await build(dir, "db1");
    const broken = await runProgram([`${second}/bin/demo-health`]);
    assertEquals([broken.code, broken.stderr.trim()], [1, "db1: demo-app 1.1 does not answer"]);
    const web1 = await runProgram([`${await build(dir, "web1")}/bin/demo-health`]);
    assertEquals(web1.code, 0, "only db1 is broken");

    const diff = await nix(["store", "diff-closures", first, second], dir);
    assertEquals(diff.code, 0, diff.stderr);
    assertStringIncludes(diff.stdout, "demo-app: 1.0 → 1.1");
    assertStringIncludes(diff.stdout, "nixos-system-db1: 1 → 2");

    const usage = await runProgram([`${second}/bin/switch-to-configuration`, "reboot"]);
    assertEquals(usage.code, 1);
    const boot = await runProgram([`${second}/bin/switch-to-configuration`, "boot"]);
    assertEquals(boot.code, 0, "boot changes nothing on a demo host");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("demoFleetTree() quotes facts for Nix and refuses a bad host name or a missing system", async () => {
  const hostile = { ...hosts[0]!, address: 'a"b${builtins.abort "x"}\\' };
  const dir = await Deno.makeTempDir({ prefix: "devops-demo-fleet-" });
  try {
    await writeTree(dir, demoFleetTree([hostile], systems(1, "1.0")));
    const result = await nix(["eval", "--json", "--file", "lib/hosts.nix"], dir);
    assertEquals(result.code, 0, result.stderr);
    assertEquals(JSON.parse(result.stdout).web1.address, hostile.address);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assertThrows(
    () => demoFleetTree([{ ...hosts[0]!, name: "-x" }], { "-x": systems(1, "1")["web1"]! }),
    'Invalid demo host name "-x"',
  );
  assertThrows(() => demoFleetTree(hosts, { web1: systems(1, "1")["web1"]! }), '"db1": no system');
});
