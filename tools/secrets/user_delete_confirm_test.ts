// Issue 32: `user revoke --delete` is asked by name (README: "asked by name"), not y/N: deleting
// a user's file is the one change no rekey undoes, so a reflex "y" deletes nothing. Run on a
// pseudo-terminal (util-linux `script`) as a person runs `deno task secrets`.
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { createProgramsBin } from "../testing/task.ts";
import { createFixture, type Fixture, makeAgeKey, SECRETS_PROGRAMS } from "./_test_support.ts";

/**
 * Runs `secrets …` on a pseudo-terminal, typing `answer` at its first question; its stdout
 * goes to `stdoutFile` when given.
 */
async function onTerminal(f: Fixture, args: string[], answer: string, stdoutFile?: string) {
  await using bin = await createProgramsBin(SECRETS_PROGRAMS);
  const command = [`${bin.dir}/deno`, "task", "-q", "secrets", ...args].map((a) => `'${a}'`)
    .join(" ") + (stdoutFile === undefined ? "" : ` > '${stdoutFile}'`);
  const child = new Deno.Command("script", {
    args: ["-qfec", command, "/dev/null"],
    cwd: f.repo.dir,
    env: {
      PATH: `${bin.dir}:/usr/bin:/bin`,
      NO_COLOR: "1",
      INIT_CWD: f.repo.dir,
      SOPS_AGE_KEY_FILE: f.admin.file,
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.getReader();
  let text = "";
  let typed = false;
  if (stdoutFile !== undefined) {
    // The question may not reach the terminal (that is what the caller checks): type ahead,
    // the terminal keeps the line until the program reads it.
    await writer.write(new TextEncoder().encode(`${answer}\r`));
    typed = true;
  }
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
    // A y/N question or one asking for a name: either way the answer is typed.
    if (!typed && (text.includes("[y/N]") || text.includes("to confirm:"))) {
      await writer.write(new TextEncoder().encode(`${answer}\r`));
      typed = true;
    }
  }
  await writer.close().catch(() => {});
  const status = await child.status;
  await child.stderr.cancel();
  return { code: status.code, text };
}

Deno.test("user revoke --delete: y deletes nothing; typing the file's path deletes it", async () => {
  await using f = await createFixture(["web1"]);
  const sam = await makeAgeKey(f.keysDir, "sam");
  for (const args of [["user", "add", "sam", sam.recipient], ["user", "grant", "sam", "web1"]]) {
    const r = await f.task("secrets", args);
    assertEquals(r.code, 0, r.stderr);
  }
  const path = "secrets/users/sam/web1.yaml";
  const args = ["user", "revoke", "sam", "web1", "--delete"];
  const before = await f.snapshot();
  const refused = await onTerminal(f, args, "y");
  assertEquals(refused.code, 1, refused.text);
  assertStringIncludes(refused.text, `Type ${path} to confirm:`);
  assertStringIncludes(refused.text, `Cannot delete ${path}: not confirmed`);
  assertEquals(await f.snapshot(), before, "nothing changed");
  const deleted = await onTerminal(f, args, path);
  assertEquals(deleted.code, 0, deleted.text);
  assert(!await Deno.lstat(f.repo.path(path)).then(() => true, () => false), "deleted");
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
});

Deno.test("user remove on a terminal asks on stderr: with --json, stdout is only the JSON report", async () => {
  await using f = await createFixture(["web1"]);
  const sam = await makeAgeKey(f.keysDir, "sam");
  assertEquals((await f.task("secrets", ["user", "add", "sam", sam.recipient])).code, 0);
  const out = f.repo.path("report.json");
  // stdin and stderr on the terminal, stdout into a file (as `… --json > report.json`).
  const r = await onTerminal(f, ["--json", "user", "remove", "sam"], "y", out);
  assertEquals(r.code, 0, r.text);
  assertStringIncludes(r.text, `Remove user "sam"?`);
  assertStringIncludes(r.text, "[y/N]");
  const report = await Deno.readTextFile(out);
  assert(!report.includes("Remove user"), `the question is not on stdout: ${report}`);
  JSON.parse(report);
});
