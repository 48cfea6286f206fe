import { assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { hostNameProblem, isHostName } from "./host_name.ts";

Deno.test("isHostName() takes hostnames that are also Nix attributes and sops anchors", () => {
  for (const name of ["nas1", "desk1", "dev-vm", "a", "web-01", "x".repeat(63)]) {
    assertEquals(isHostName(name), true, name);
  }
  for (
    const name of [
      "",
      "2fast",
      "_x",
      "-x",
      "x-",
      "Web1",
      "web_1",
      "web.1",
      "a b",
      "x".repeat(64),
      "host\n",
      "../etc",
    ]
  ) {
    assertEquals(isHostName(name), false, JSON.stringify(name));
  }
});

Deno.test("hostNameProblem() names the value and the rule", () => {
  assertEquals(hostNameProblem("nas1"), undefined);
  const problem = hostNameProblem("2fast") ?? "";
  assertStringIncludes(problem, '"2fast" is not a valid host name');
  assertStringIncludes(problem, "starting with a letter");
});
