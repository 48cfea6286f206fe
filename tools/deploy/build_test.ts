// buildToplevels() with real nix on a fixture flake: which hosts fail, and what runs after a
// signal.
import { assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { createFixtureFlake } from "../testing/fixture_flake.ts";
import { createRunner, type Runner } from "../lib/runner.ts";
import { buildToplevels } from "./build.ts";
import { parseFleetFacts } from "../lib/fleet/mod.ts";
import { type HostPlan, planDeploy } from "./plan.ts";

/** The real runner, counting the commands it runs. */
function countingRunner(): Runner & { commands: string[][] } {
  const real = createRunner({ write: () => {} });
  const commands: string[][] = [];
  return {
    ...real,
    commands,
    run: (spec) => {
      commands.push([...spec.argv]);
      return real.run(spec);
    },
    text: (spec) => {
      commands.push([...spec.argv]);
      return real.text(spec);
    },
  };
}

Deno.test("buildToplevels(): after a signal a failed evaluation is not repeated per host; every host is reported", async () => {
  await using flake = await createFixtureFlake([{ name: "web1" }, { name: "web2" }]);
  // "ghost" has facts but no configuration: the evaluation of all hosts at once fails.
  const facts = parseFleetFacts(
    Object.fromEntries(
      ["web1", "web2", "ghost"].map((h) => [h, {
        deployable: true,
        address: "192.0.2.1",
        system: "x86_64-linux",
      }]),
    ),
  );
  const plan = planDeploy(facts, { names: ["web1", "web2", "ghost"], all: false, tags: [] }, {
    flake: flake.dir,
    mode: "switch",
    parallel: 3,
    rollback: true,
    noCheckSigs: false,
    askSudoPassword: false,
  });
  for (const interrupted of [false, true]) {
    const runner = countingRunner();
    const failed: [string, string][] = [];
    const toplevels = await buildToplevels(plan, {
      runner,
      fail: (host: HostPlan, step) => failed.push([host.host, step]),
      building: () => {},
      interrupted: () => interrupted,
    });
    if (interrupted) {
      // One evaluation, no build: the deployer stops.
      assertEquals(runner.commands.length, 1, runner.commands.map((c) => c[1]).join(" "));
      assertEquals(failed, [["web1", "eval"], ["web2", "eval"], ["ghost", "eval"]]);
      assertEquals(toplevels, {});
    } else {
      // Not interrupted: each host evaluated alone, so only the one at fault fails.
      assertEquals(failed, [["ghost", "eval"]]);
      assertEquals(Object.keys(toplevels).sort(), ["web1", "web2"]);
      assertStringIncludes(runner.commands.at(-1)!.join(" "), "nix build");
    }
  }
});
