import { assertEquals, assertRejects } from "./assert.ts";
import { runProgram, runProgramOk } from "./run.ts";

Deno.test("runProgram() passes stdin, cwd and env and returns code and output", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  const result = await runProgram(["sh", "-c", 'cat; pwd; echo "$X" >&2; exit 3'], {
    cwd: dir,
    env: { X: "from env" },
    stdin: "from stdin\n",
  });
  assertEquals(result, { code: 3, stdout: `from stdin\n${dir}\n`, stderr: "from env\n" });
  await Deno.remove(dir);
});

Deno.test("runProgramOk() returns stdout, or throws with the command and stderr", async () => {
  assertEquals(await runProgramOk(["echo", "hi"]), "hi\n");
  await assertRejects(
    () => runProgramOk(["sh", "-c", "echo why >&2; exit 2"]),
    Error,
    "failed (2): why",
  );
});
