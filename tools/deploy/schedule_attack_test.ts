// Attacks on the deploy scheduler (schedule.ts) with real sshd test hosts and
// `deno task deploy`: hostile flag values, signals while hosts wait at the gate, hosts that fail,
// are busy or hang while holding an activation permit, modes without a confirmation, and the
// report's step times on every path.
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { fleet } from "./_test_fleet.ts";

Deno.test("deploy: odd --max-activations and --confirm-timeout values are refused in one line, before anything runs", async () => {
  await using f = await fleet(2);
  const refused: [string, string][] = [
    ["--max-activations", "0"],
    ["--max-activations", "-1"],
    ["--max-activations", "1.5"],
    ["--max-activations", "abc"],
    ["--max-activations", "99999999999999999999"],
    ["--max-activations", "9".repeat(400)],
    // Past the facts' own bound a timer overflows (it would fire at once: no priority for the
    // host, and its confirmation killed as soon as it starts).
    ["--confirm-timeout", "86401"],
    ["--confirm-timeout", "3000000"],
  ];
  for (const [flag, value] of refused) {
    const run = await f.task("--all", flag, value, "--dry-run");
    assertEquals([flag, value, run.code, run.stdout], [flag, value, 2, ""], run.stderr);
    const line = run.stderr.trim();
    assert(!line.includes("\n"), line);
    assertStringIncludes(line, `Invalid ${flag} "${value}"`);
  }
  // Larger than --parallel (or than the fleet): the bound is the number of hosts run at once.
  for (const value of ["1000000", "08"]) {
    const run = await f.task("--all", "--parallel", "1", "--max-activations", value, "--dry-run");
    assertEquals(run.code, 0, run.stderr);
    assertStringIncludes(run.stdout, "up to 1 host(s) at once, at most 1 between activation");
  }
  const longest = await f.task("--all", "--confirm-timeout", "86400", "--dry-run");
  assertEquals(longest.code, 0, longest.stderr);
});
