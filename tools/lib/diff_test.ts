import { assertEquals } from "../testing/assert.ts";
import { runProgram } from "../testing/run.ts";
import { unifiedDiff } from "./diff.ts";

Deno.test("unifiedDiff() is empty for equal texts", () => {
  assertEquals(unifiedDiff("f", "a\n", "a\n"), "");
});

async function gnuDiff(before: string, after: string): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/a`, before);
  await Deno.writeTextFile(`${dir}/b`, after);
  const out = await runProgram(["diff", "-u", `${dir}/a`, `${dir}/b`]);
  await Deno.remove(dir, { recursive: true });
  // Drop diff's own ---/+++ lines, which carry the temp paths and times.
  return out.stdout.split("\n").slice(2).join("\n");
}

Deno.test("unifiedDiff() prints the same hunks as diff -u", async () => {
  const before = Array.from({ length: 30 }, (_, i) => `l${i}`).join("\n") + "\n";
  const cases = [
    before.replace("l2\n", "L2\n").replace("l29\n", "l29\nl30\n"),
    before.replace("l10\n", "").replace("l14\n", "x\ny\n"),
    before.replace("l0\n", ""),
    "only\n",
  ];
  for (const after of cases) {
    const mine = unifiedDiff("x.nix", before, after).split("\n").slice(2).join("\n");
    assertEquals(mine, await gnuDiff(before, after));
  }
});

Deno.test("unifiedDiff() shows a new file as all additions", () => {
  assertEquals(unifiedDiff("n", "", "a\nb\n"), "--- a/n\n+++ b/n\n@@ -0,0 +1,2 @@\n+a\n+b\n");
});
