import { assertEquals } from "../testing/assert.ts";
import { BoundedLines } from "./execute.ts";

Deno.test("BoundedLines keeps at most max characters of a line, counting the rest, across chunks", () => {
  const lines = new BoundedLines(4);
  assertEquals(lines.push("ab"), []);
  assertEquals(lines.push("cdef\ngh\n"), ["abcd… (2 more characters left out)", "gh"]);
  assertEquals(lines.push("x".repeat(10)), []);
  assertEquals(lines.push("y".repeat(10)), []);
  assertEquals(lines.end(), "xxxx… (16 more characters left out)");
  assertEquals(lines.end(), undefined);
  assertEquals(lines.push("\n\nz"), ["", ""]);
  assertEquals(lines.end(), "z");
});
