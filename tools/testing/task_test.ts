import { assertEquals, assertStringIncludes } from "./assert.ts";
import { createProgramsBin, installToolkit, runTask } from "./task.ts";
import { createTempRepo } from "./temp_repo.ts";
import { fleetTree } from "./repo_fixture.ts";

Deno.test("runTask() runs a deno task in a repository copy with PATH outside it", async () => {
  await using repo = await createTempRepo(fleetTree());
  await installToolkit(repo.dir);
  await using bin = await createProgramsBin(["git"]);
  const result = await runTask(repo.dir, "index", ["--json"], { bin });
  assertEquals(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as { indexes: unknown[] };
  assertEquals(report.indexes.length, 8);
  assertStringIncludes(
    await Deno.readTextFile(repo.path("configurations/nixos-configurations.nix")),
    "web1",
  );
});

Deno.test("createProgramsBin() names a program that is not installed", async () => {
  let message = "";
  await createProgramsBin(["no-such-program-here"]).catch((e: Error) => message = e.message);
  assertStringIncludes(message, "no-such-program-here is not on PATH");
});
