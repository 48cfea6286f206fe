import { assertEquals } from "../testing/assert.ts";
import { runProgram } from "../testing/run.ts";
import { isYes, oneQuestionAtATime } from "./prompt.ts";

Deno.test("isYes() takes y and yes in any case; anything else, or no answer, is no", () => {
  for (const yes of ["y", "Y", "yes", " YES "]) assertEquals(isYes(yes), true, yes);
  for (const no of ["", "n", "no", "yep", "y es", undefined]) assertEquals(isYes(no), false);
});

Deno.test("oneQuestionAtATime() asks in call order, each after the one before is answered", async () => {
  const log: string[] = [];
  const answers = new Map<string, () => void>();
  const ask = oneQuestionAtATime((host: string) => {
    log.push(`ask ${host}`);
    return new Promise<boolean>((resolve) => answers.set(host, () => resolve(host === "a")));
  });
  const a = ask("a");
  const b = ask("b");
  await new Promise((r) => setTimeout(r, 0));
  assertEquals(log, ["ask a"], "b waits for a's answer");
  answers.get("a")!();
  assertEquals(await a, true);
  await new Promise((r) => setTimeout(r, 0));
  assertEquals(log, ["ask a", "ask b"]);
  answers.get("b")!();
  assertEquals(await b, false);
});

Deno.test("askYesNo() and readSecret() read one line of a piped stdin, the question on stderr", async () => {
  const code = `
    import { askYesNo, readSecret } from "${new URL("./prompt.ts", import.meta.url)}";
    const secret = await readSecret("password: ");
    const yes = await askYesNo("go? [y/N] ");
    const closed = await askYesNo("again? [y/N] ");
    console.log(JSON.stringify({ secret, yes, closed }));
  `;
  const result = await runProgram(["deno", "eval", code], { stdin: "s3cret\nyes\n" });
  assertEquals(result.code, 0, result.stderr);
  assertEquals(JSON.parse(result.stdout), { secret: "s3cret", yes: true, closed: false });
  assertEquals(result.stderr.includes("go? [y/N]"), true);
  assertEquals(result.stdout.includes("go?"), false, "stdout stays for --json");
});

Deno.test("confirmOnTerminal() and askToType() say no without a terminal, whatever stdin holds", async () => {
  const code = `
    import { askToType, confirmOnTerminal } from "${new URL("./prompt.ts", import.meta.url)}";
    const yes = await confirmOnTerminal("go?");
    const typed = await askToType("delete it?", "web1");
    console.log(JSON.stringify({ yes, typed }));
  `;
  const result = await runProgram(["deno", "eval", code], { stdin: "y\nweb1\n" });
  assertEquals(result.code, 0, result.stderr);
  assertEquals(JSON.parse(result.stdout), { yes: false, typed: false });
  assertEquals(result.stderr, "", "nothing asked: a script must pass --yes");
});
