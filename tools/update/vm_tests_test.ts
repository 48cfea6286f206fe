// `update --inputs --vm-test` as users run it: the changed hosts' VM tests (flake checks
// `checks.<system>.vm-<host>`, here derivations that pass or fail on what the moved input holds)
// run after the rebuild; a failing one leaves flake.lock as it was and names the test.
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { installToolkit, runTask } from "../testing/task.ts";
import { createTempRepo, type TempRepo } from "../testing/temp_repo.ts";
import { currentSystem } from "./facts.ts";
import { GIT_IDENTITY, updateProgramsBin } from "./_test_support.ts";
import { lockedInputs } from "./lock.ts";
import { planVmTests, vmCheckNames } from "./vm_tests.ts";

Deno.test("vmCheckNames() is the host's test, then its disk-layout test", () => {
  assertEquals(vmCheckNames("nas1"), ["vm-nas1", "vm-nas1-disks"]);
});

Deno.test("planVmTests() finds each host's checks on every system and lists hosts without one", () => {
  assertEquals(
    planVmTests(["web1", "web2", "web3"], {
      "x86_64-linux": ["format", "vm-web1", "vm-web2"],
      "aarch64-linux": ["vm-web1"],
    }),
    [
      { host: "web1", check: "checks.aarch64-linux.vm-web1" },
      { host: "web1", check: "checks.x86_64-linux.vm-web1" },
      { host: "web2", check: "checks.x86_64-linux.vm-web2" },
      { host: "web3", check: undefined },
    ],
  );
});

/** A fleet whose hosts use an input, with a VM test per host that fails on a file in it. */
function fleetFlake(app: string): Record<string, string> {
  return {
    "configurations/web1/default.nix": "{ }\n",
    "configurations/web2/default.nix": "{ }\n",
    "flake.nix": `# Fixture fleet with a VM test per host (a stand-in for the NixOS test driver's).
{
  inputs.app = { url = "git+file://${app}"; flake = false; };
  outputs = { self, app }:
    let
      system = "${currentSystem()}";
      toplevel = host: derivation {
        name = "nixos-system-\${host}";
        inherit system;
        builder = "/bin/sh";
        args = [ "-c" "read -r v < \${app}/version; echo \${host} $v > $out" ];
      };
      vmTest = host: derivation {
        name = "vm-test-\${host}";
        inherit system;
        builder = "/bin/sh";
        args = [ "-c" "if [ -e \${app}/breaks-\${host} ]; then echo \${host}: sshd refuses keys >&2; exit 1; fi; echo ok > $out" ];
      };
    in
    {
      nixosConfigurations = builtins.mapAttrs (host: _: {
        config.system.build.toplevel = toplevel host;
      }) { web1 = { }; web2 = { }; };
      checks.\${system} = { vm-web1 = vmTest "web1"; vm-web2 = vmTest "web2"; };
    };
}
`,
  };
}

async function fixture() {
  const app = await createTempRepo({ version: "1.0\n" });
  const fleet = await createTempRepo(fleetFlake(app.dir));
  await installToolkit(fleet.dir);
  await fleet.git("add", "-A");
  await fleet.git("commit", "-q", "-m", "toolkit");
  return {
    app,
    fleet,
    async [Symbol.asyncDispose]() {
      for (const r of [fleet, app]) await r[Symbol.asyncDispose]();
    },
  };
}

async function commitTo(repo: TempRepo, files: Record<string, string>, message: string) {
  await repo.write(files);
  await repo.git("add", "-A");
  await repo.git("commit", "-q", "-m", message);
  return (await repo.git("rev-parse", "HEAD")).trim();
}

interface Report {
  lock: string;
  vmTests?: { host: string; check: string | undefined; result: { kind: string } }[];
  commit?: string;
}

Deno.test("update --inputs --vm-test --commit: the changed hosts' VM tests pass, then the lock is committed", async () => {
  await using f = await fixture();
  await using bin = await updateProgramsBin();
  assertEquals((await runTask(f.fleet.dir, "update", ["--inputs", "--no-build"], { bin })).code, 0);
  await f.fleet.git("add", "flake.lock");
  await f.fleet.git("commit", "-q", "-m", "lock");
  const newApp = await commitTo(f.app, { version: "1.1\n" }, "app 1.1");
  const result = await runTask(
    f.fleet.dir,
    "update",
    ["--inputs", "--vm-test", "--commit", "--json"],
    { bin, env: GIT_IDENTITY },
  );
  assertEquals(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as Report;
  const system = currentSystem();
  assertEquals(report.lock, "updated");
  assertEquals(report.vmTests, [
    { host: "web1", check: `checks.${system}.vm-web1`, result: { kind: "passed" } },
    { host: "web2", check: `checks.${system}.vm-web2`, result: { kind: "passed" } },
  ]);
  assertEquals(
    lockedInputs(await Deno.readTextFile(f.fleet.path("flake.lock"))).get("app")?.rev,
    newApp,
  );
  assertStringIncludes(
    await f.fleet.git("log", "-1", "--format=%B"),
    `web1: VM test checks.${system}.vm-web1 passed`,
  );
});

Deno.test("update --inputs --vm-test: a failing VM test leaves flake.lock as it was, names the test, commits nothing", async () => {
  await using f = await fixture();
  await using bin = await updateProgramsBin();
  assertEquals((await runTask(f.fleet.dir, "update", ["--inputs", "--no-build"], { bin })).code, 0);
  await f.fleet.git("add", "flake.lock");
  await f.fleet.git("commit", "-q", "-m", "lock");
  const lockBefore = await Deno.readTextFile(f.fleet.path("flake.lock"));
  const head = (await f.fleet.git("rev-parse", "HEAD")).trim();
  // The new revision builds every host, but web2's VM test fails on it.
  await commitTo(f.app, { version: "1.1\n", "breaks-web2": "" }, "app 1.1, breaks web2");
  const result = await runTask(f.fleet.dir, "update", ["--inputs", "--vm-test", "--commit"], {
    bin,
    env: GIT_IDENTITY,
  });
  assertEquals(result.code, 1, result.stdout + result.stderr);
  const system = currentSystem();
  assertStringIncludes(result.stdout, `web1: VM test checks.${system}.vm-web1 passed`);
  assertStringIncludes(result.stdout, `web2: VM test checks.${system}.vm-web2 failed`);
  assertStringIncludes(
    result.stdout,
    `flake.lock left as it was: VM test checks.${system}.vm-web2 failed`,
  );
  assertEquals(await Deno.readTextFile(f.fleet.path("flake.lock")), lockBefore);
  assertEquals((await f.fleet.git("rev-parse", "HEAD")).trim(), head);
  assertEquals((await f.fleet.git("status", "--porcelain")).trim(), "");
});

Deno.test("update --vm-test: refused without --inputs and with --no-build", async () => {
  await using f = await fixture();
  await using bin = await updateProgramsBin();
  const alone = await runTask(f.fleet.dir, "update", ["--vm-test"], { bin });
  assertEquals(alone.code, 2, alone.stderr);
  assertStringIncludes(alone.stderr, "Cannot use --vm-test without --inputs");
  const noBuild = await runTask(f.fleet.dir, "update", ["--inputs", "--vm-test", "--no-build"], {
    bin,
  });
  assertEquals(noBuild.code, 2, noBuild.stderr);
  assert(!(await Deno.stat(f.fleet.path("flake.lock")).then(() => true, () => false)));
});
