import { assert, assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { CommandError } from "./errors.ts";
import { createRunner } from "./runner.ts";

function collecting() {
  const lines: string[] = [];
  return { lines, write: (line: string) => lines.push(line) };
}

Deno.test("createRunner() runs a real command and captures its output", async () => {
  const runner = createRunner();
  const result = await runner.run({ argv: ["sh", "-c", "echo out; echo err >&2"] });
  assertEquals(result, { code: 0, stdout: "out\n", stderr: "err\n", skipped: false });
  assertEquals(await runner.text({ argv: ["printf", "%s\\n", "a b"] }), "a b");
});

Deno.test("createRunner() passes stdin, cwd and env", async () => {
  const dir = await Deno.makeTempDir();
  const runner = createRunner();
  const out = await runner.text({
    argv: ["sh", "-c", 'cat; pwd; echo "$GREETING"'],
    stdin: "from stdin\n",
    cwd: dir,
    env: { GREETING: "hi" },
  });
  assertEquals(out, `from stdin\n${await Deno.realPath(dir)}\nhi`);
  await Deno.remove(dir);
});

Deno.test("createRunner() throws CommandError with the command and stderr tail", async () => {
  const runner = createRunner();
  const error = await assertRejects(
    () => runner.run({ argv: ["sh", "-c", "echo first >&2; echo 'the cause' >&2; exit 3"] }),
    CommandError,
  );
  assertEquals(error.code, 3);
  assertStringIncludes(error.message, "exit code 3");
  assertStringIncludes(error.message, "the cause");
  assertStringIncludes(error.stderrTail, "first\nthe cause");
});

Deno.test("createRunner() treats okCodes as data", async () => {
  const result = await createRunner().run({ argv: ["sh", "-c", "exit 1"], okCodes: [1] });
  assertEquals(result.code, 1);
});

Deno.test("createRunner() under dry-run prints mutating commands and runs none of them", async () => {
  const dir = await Deno.makeTempDir();
  const log = collecting();
  const runner = createRunner({ dryRun: true, write: log.write });
  const marker = `${dir}/marker`;
  const result = await runner.run({ argv: ["touch", marker], mutates: true });
  assert(result.skipped);
  assertEquals(log.lines, [`would run: touch ${marker}`]);
  const exists = await Deno.stat(marker).then(() => true, () => false);
  assert(!exists, "the command must not have run");
  // Reading commands still run, so a dry run can plan from real state.
  assertEquals(await runner.text({ argv: ["echo", "read"] }), "read");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("createRunner() under verbose logs each command and its output tail", async () => {
  const log = collecting();
  await createRunner({ verbose: true, write: log.write }).run({ argv: ["echo", "it's"] });
  assertEquals(log.lines, [`$ echo 'it'\\''s'`, "it's"]);
});

Deno.test("CommandError names the error line, not nix's trailing hint", async () => {
  const error = await assertRejects(
    () =>
      createRunner().run({
        argv: [
          "sh",
          "-c",
          "echo 'warning: retrying' >&2; echo 'error: cannot fetch x' >&2; echo '(use --show-trace)' >&2; exit 1",
        ],
      }),
    CommandError,
  );
  assertStringIncludes(error.message, ": error: cannot fetch x");
});

Deno.test("createRunner() with discardStdout never holds or shows the output, verbose or failing", async () => {
  const { lines, write } = collecting();
  const runner = createRunner({ verbose: true, write });
  // The secret comes from the environment, so the command line shown does not hold it.
  const print = (code: number) => ({
    argv: ["sh", "-c", `echo "$V"; exit ${code}`],
    env: { V: "SECRET" },
    discardStdout: true,
  });
  assertEquals((await runner.run(print(0))).stdout, "");
  const failed = await runner.run({ ...print(3), okCodes: [3] });
  assertEquals([failed.code, failed.stdout], [3, ""]);
  const error = await assertRejects(() => runner.run(print(1)), CommandError);
  assert(!error.message.includes("SECRET"), error.message);
  assert(!lines.join("\n").includes("SECRET"), lines.join("\n"));
});
