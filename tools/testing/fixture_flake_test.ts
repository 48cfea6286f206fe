import { assert, assertEquals, assertStringIncludes, assertThrows } from "./assert.ts";
import { createFixtureFlake, defaultHostFacts, fixtureFlakeTree } from "./fixture_flake.ts";
import { runProgram as run } from "./run.ts";

Deno.test("fixtureFlakeTree() rejects bad and duplicate host names", () => {
  assertThrows(() => fixtureFlakeTree([{ name: "a b" }]), "not a valid host name");
  assertThrows(() => fixtureFlakeTree([{ name: "a" }, { name: "a" }]), "used twice");
  const tree = fixtureFlakeTree([{ name: "web1", hostPublicKey: "ssh-ed25519 AAAA host" }]);
  assertEquals(tree["configurations/web1/ssh_host_ed25519_key.pub"], "ssh-ed25519 AAAA host\n");
});

Deno.test("createFixtureFlake() gives hosts facts with one nix eval", async () => {
  await using flake = await createFixtureFlake([
    { name: "web1", facts: { address: "127.0.0.5", tags: ["web"], healthChecks: ["true"] } },
    { name: "db1", facts: { deployable: false, buildOn: "remote" } },
  ]);
  const result = await run(["nix", "eval", "--json", `${flake.dir}#hosts`]);
  assertEquals(result.code, 0, result.stderr);
  assertEquals(JSON.parse(result.stdout), {
    web1: { ...defaultHostFacts(), address: "127.0.0.5", tags: ["web"], healthChecks: ["true"] },
    db1: { ...defaultHostFacts(), deployable: false, buildOn: "remote" },
  });
});

// How fast a toplevel builds is measured by `deno task bench:fixture`, not asserted here.
Deno.test("createFixtureFlake() toplevels build and change with the marker", async () => {
  await using flake = await createFixtureFlake([{ name: "web1" }, { name: "db1" }]);
  const web1 = await flake.buildToplevel("web1");
  assert(/^\/nix\/store\/[a-z0-9]{32}-nixos-system-web1-1$/.test(web1), web1);
  assertEquals(await Deno.readTextFile(`${web1}/nixos-version`), "fixture-1\n");
  const mode = (await Deno.stat(`${web1}/bin/switch-to-configuration`)).mode! & 0o111;
  assert(mode !== 0, "switch-to-configuration is executable");
  const closure = (await run(["nix-store", "-qR", web1])).stdout.trim().split("\n");
  assertEquals(closure.length, 2, "the toplevel and its etc");

  await flake.update({ web1: { toplevel: { marker: "2" } } });
  const web1Next = await flake.buildToplevel("web1");
  assert(web1Next !== web1, "a new marker gives a new toplevel");
  assertStringIncludes(web1Next, "-nixos-system-web1-2");
  assertEquals(await Deno.readTextFile(`${web1Next}/nixos-version`), "fixture-2\n");
  assertEquals(await Deno.realPath(`${web1Next}/etc`), await Deno.realPath(`${web1}/etc`));
  assertEquals((await flake.git("status", "--porcelain")).trim(), "", "update commits");
});

Deno.test("fixture switch-to-configuration records switch, boot and failures", async () => {
  await using flake = await createFixtureFlake([
    { name: "ok" },
    { name: "bad", toplevel: { failActivation: true } },
  ]);
  const ok = await flake.buildToplevel("ok");
  const bad = await flake.buildToplevel("bad");
  // Run the scripts in a private mount namespace with a scratch /nix/var and /run.
  const scratch = await Deno.makeTempDir();
  try {
    const script = [
      "set -e",
      `mkdir -p ${scratch}/var ${scratch}/run`,
      `mount --bind ${scratch}/var /nix/var`,
      `mount --bind ${scratch}/run /run`,
      `${ok}/bin/switch-to-configuration boot`,
      `test ! -e /nix/var/fixture/current-system`,
      `${ok}/bin/switch-to-configuration switch`,
      `${bad}/bin/switch-to-configuration test || echo "exit $?"`,
      `${ok}/bin/switch-to-configuration nonsense || echo "exit $?"`,
      "cat /nix/var/fixture/activations /nix/var/fixture/current-system",
      "readlink /run/current-system",
    ].join("\n");
    const result = await run([
      "unshare",
      "--mount",
      "--propagation",
      "private",
      "sh",
      "-c",
      script,
    ]);
    assertEquals(result.code, 0, result.stderr);
    assertEquals(result.stdout.trim().split("\n"), [
      "exit 4",
      "exit 1",
      `boot ${ok}`,
      `switch ${ok}`,
      `test ${bad}`,
      ok,
      ok,
    ]);
    assertStringIncludes(result.stderr, "failActivation");
  } finally {
    await Deno.remove(scratch, { recursive: true });
  }
});
