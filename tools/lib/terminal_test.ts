import { assertEquals } from "../testing/assert.ts";
import { hasControl, jsonForTerminal, printable, printableLine } from "./terminal.ts";

Deno.test("printable() shows C0, DEL and C1 controls escaped, keeps newlines and tabs", () => {
  assertEquals(
    printable("a\x1b]0;title\x07b\x1b[2J\r\n\tc\x7f\x9b1m\x85"),
    "a\\x1b]0;title\\x07b\\x1b[2J\\x0d\n\tc\\x7f\\x9b1m\\x85",
  );
  assertEquals(printable("plain → text, ünïcode"), "plain → text, ünïcode");
});

Deno.test("printableLine() escapes newlines and tabs too", () => {
  assertEquals(printableLine("a\nb\tc\x1b"), "a\\x0ab\\x09c\\x1b");
});

Deno.test("jsonForTerminal() escapes C1 controls and keeps the JSON's value", () => {
  const value = { text: "a\x9b2Jb\x1bc" };
  const json = jsonForTerminal(JSON.stringify(value));
  assertEquals(hasControl(json.replaceAll("\n", "")), false);
  assertEquals(JSON.parse(json), value);
});
