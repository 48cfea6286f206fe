import { assert, assertEquals, assertRejects, assertThrows } from "../testing/assert.ts";
import { CommandError } from "./errors.ts";
import { createProcessRunner, startProcess } from "./process_runner.ts";
import { createRunner } from "./runner.ts";

Deno.test("createProcessRunner() runs commands, passes stdin, treats okCodes as data", async () => {
  const runner = createProcessRunner();
  assertEquals(await runner.text({ argv: ["sh", "-c", "cat; echo"], stdin: "hi" }), "hi");
  const two = await runner.run({
    argv: ["sh", "-c", "echo out; echo err >&2; exit 2"],
    okCodes: [2],
  });
  assertEquals([two.code, two.stdout, two.stderr], [2, "out\n", "err\n"]);
  const error = await assertRejects(
    () =>
      runner.run({ argv: ["sh", "-c", "echo first >&2; echo 'error: real cause' >&2; exit 3"] }),
    CommandError,
  );
  assertEquals([error.code, error.stderrTail], [3, "first\nerror: real cause"]);
  const missing = await assertRejects(
    () => runner.run({ argv: ["no-such-program-anywhere"] }),
    CommandError,
  );
  assertEquals(missing.code, 127);
});

Deno.test("createProcessRunner() kills a command at its timeout and says so", async () => {
  const runner = createProcessRunner();
  const error = await assertRejects(
    () => runner.run({ argv: ["sleep", "30"], timeoutMs: 200 }),
    CommandError,
    "timed out after 0 s",
  );
  assertEquals(error.code, 124);
});

Deno.test("createProcessRunner() prints mutating commands under --dry-run and runs reading ones", async () => {
  const lines: string[] = [];
  const runner = createProcessRunner({ dryRun: true, write: (l) => lines.push(l) });
  const skipped = await runner.run({ argv: ["sh", "-c", "exit 9"], mutates: true });
  assertEquals(skipped.skipped, true);
  assertEquals(await runner.text({ argv: ["echo", "read"] }), "read");
  assertEquals(lines, ["would run: sh -c 'exit 9'"]);
});

Deno.test("createProcessRunner() and createRunner(): clearEnv leaves only env; discardStdout and secretStdout keep stdout from view", async () => {
  Deno.env.set("RUNNER_TEST_LEAK", "leaked");
  try {
    for (const runner of [createProcessRunner(), createRunner()]) {
      const seen = await runner.text({
        argv: ["/bin/sh", "-c", 'echo "${RUNNER_TEST_LEAK:-none} $ONLY"'],
        clearEnv: true,
        env: { ONLY: "given" },
      });
      assertEquals(seen, "none given");
      const inherited = await runner.text({
        argv: ["/bin/sh", "-c", 'echo "${RUNNER_TEST_LEAK:-none}"'],
      });
      assertEquals(inherited, "leaked");
      const hidden = await runner.run({
        argv: ["/bin/sh", "-c", "echo secret; echo err >&2"],
        discardStdout: true,
      });
      assertEquals([hidden.stdout, hidden.stderr], ["", "err\n"]);
    }
    for (const make of [createProcessRunner, createRunner]) {
      const lines: string[] = [];
      const runner = make({ verbose: true, write: (l: string) => lines.push(l) });
      const kept = await runner.run({
        argv: ["/bin/sh", "-c", 'echo "$S"; echo note >&2'],
        env: { S: "s3cret" },
        secretStdout: true,
      });
      assertEquals(kept.stdout, "s3cret\n");
      const failed = await assertRejects(
        () =>
          runner.run({
            argv: ["/bin/sh", "-c", 'echo "$S"; exit 4'],
            env: { S: "s3cret" },
            secretStdout: true,
          }),
        CommandError,
      );
      assertEquals(failed.message.includes("s3cret"), false, failed.message);
      assertEquals(lines.join("\n").includes("s3cret"), false, lines.join("\n"));
      assertEquals(lines.join("\n").includes("note"), true, "stderr is still shown");
    }
  } finally {
    Deno.env.delete("RUNNER_TEST_LEAK");
  }
});

Deno.test("startProcess() streams stdin in and stdout out while the command runs, then its status and last stderr line", async () => {
  const cat = startProcess(["/bin/sh", "-c", "cat; echo first >&2; echo 'last line' >&2; exit 5"], {
    stdin: "piped",
  });
  const out = new Response(cat.stdout).text();
  const writer = cat.stdin!.getWriter();
  await writer.write(new TextEncoder().encode("chunk 1\n"));
  await writer.write(new TextEncoder().encode("chunk 2\n"));
  await writer.close();
  assertEquals(await out, "chunk 1\nchunk 2\n");
  assertEquals((await cat.status).code, 5);
  assertEquals(await cat.stderrLastLine(), "last line");
  const none = startProcess(["/bin/sh", "-c", "echo only"], { stdin: "null" });
  assertEquals(none.stdin, undefined);
  assertEquals(await new Response(none.stdout).text(), "only\n");
  assertEquals((await none.status).success, true);
  const missing = assertThrows(
    () => startProcess(["no-such-program-anywhere"], { stdin: "null" }),
    "command not found",
  );
  assert(missing instanceof CommandError);
  assertEquals(missing.code, 127);
});
