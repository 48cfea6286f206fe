import { assertEquals, assertRejects, assertThrows } from "../testing/assert.ts";
import { newProgram, positiveInt, positiveIntOf, runMain } from "./cli.ts";
import { UsageError } from "./errors.ts";

Deno.test("newProgram() turns a bad flag into a UsageError", async () => {
  const program = newProgram("demo", "a demo").option("--count <n>", "how many");
  await assertRejects(
    () => program.parseAsync(["--frobnicate"], { from: "user" }),
    UsageError,
    "unknown option '--frobnicate'",
  );
});

Deno.test("newProgram() parses the shared flags", async () => {
  const program = newProgram("demo", "a demo");
  await program.parseAsync(["--dry-run", "--json", "-v", "--repo", "/tmp"], { from: "user" });
  assertEquals(program.opts(), { dryRun: true, json: true, verbose: true, repo: "/tmp" });
});

Deno.test("runMain() maps usage errors to 2, failures to 1, success to 0", async () => {
  const lines: string[] = [];
  const original = console.error;
  console.error = (line: string) => lines.push(line);
  try {
    assertEquals(await runMain(() => Promise.resolve()), 0);
    assertEquals(await runMain(() => Promise.reject(new UsageError("bad flag"))), 2);
    assertEquals(await runMain(() => Promise.reject(new Error("Cannot do it:\nbecause"))), 1);
  } finally {
    console.error = original;
  }
  assertEquals(lines, ["error: bad flag", "error: Cannot do it:; because"]);
});

Deno.test("positiveInt() takes digits ≥ 1 within the safe integers, naming the flag otherwise", () => {
  assertEquals(positiveInt("1", "--parallel"), 1);
  assertEquals(positiveIntOf("--wait")("600"), 600);
  for (const bad of ["0", "-1", "1.5", "1e3", "", " 2", "0x10", "9007199254740993"]) {
    const error = assertThrows(
      () => positiveInt(bad, "--parallel"),
      `Invalid --parallel "${bad}": expected a whole number ≥ 1`,
    );
    assertEquals(error instanceof UsageError, true);
  }
});
