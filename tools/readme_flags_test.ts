// Issue 32: flags that a task's `--help` lists are named in README too (those the issue found
// missing), and README says the pre-commit hook leaves its rewrite unstaged.
import { assert, assertStringIncludes } from "./testing/assert.ts";
import { CHECKOUT, createProgramsBin, runTask } from "./testing/task.ts";

const FLAGS: [task: string, flags: string[]][] = [
  ["deploy", ["--no-check-sigs", "--connect-timeout", "--flake"]],
  ["install", ["--port", "--connect-timeout"]],
  ["iso", ["--flake"]],
  ["update", ["--system", "--version", "--test"]],
  [
    "init",
    [
      "--name",
      "--admin-key-file",
      "--ssh-key-file",
      "--dev-vm",
      "--keep-examples",
      "--keep-example-user",
    ],
  ],
];

Deno.test("README names the flags deploy, install, iso, update and init --help list", async () => {
  const readme = await Deno.readTextFile(`${CHECKOUT}/README.md`);
  await using bin = await createProgramsBin();
  for (const [task, flags] of FLAGS) {
    const help = await runTask(CHECKOUT, task, ["--help"], { bin });
    for (const flag of flags) {
      assertStringIncludes(help.stdout, flag, `${task} --help`);
      assert(
        new RegExp(`\\b${task}\\b[^.]*\`${flag}\``).test(readme.replaceAll("\n", " ")),
        `README names ${task} ${flag}`,
      );
    }
  }
});

Deno.test("README says the pre-commit hook leaves its rewritten index unstaged", async () => {
  const readme = (await Deno.readTextFile(`${CHECKOUT}/README.md`)).replaceAll("\n", " ");
  assertStringIncludes(readme, "the rewritten index is left in the working tree, not staged");
  assert(!readme.includes("so the new index is staged with the change"));
});
