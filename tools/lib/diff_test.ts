import { assertEquals } from "../testing/assert.ts";
import { lineDiff } from "./diff.ts";

Deno.test("lineDiff() shows added and removed lines with context", () => {
  assertEquals(lineDiff("a\nb\n", "a\nb\n", "f"), "");
  assertEquals(
    lineDiff("1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nX\n6\n7\n8\n9\n", "f", 1),
    "--- f\n+++ f (new)\n@@\n 4\n-5\n+X\n 6",
  );
});
