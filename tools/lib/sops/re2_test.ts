import { assert, assertThrows } from "../../testing/assert.ts";
import { re2ToRegExp } from "./re2.ts";

function matches(pattern: string, path: string): boolean {
  return re2ToRegExp(pattern).test(path);
}

Deno.test("re2ToRegExp() reads \\z, \\A, (?i), (?P<name>), \\pL as RE2 does", () => {
  assert(matches("^secrets/extra\\.yaml\\z", "secrets/extra.yaml"));
  assert(!matches("^secrets/extra\\.yaml\\z", "secrets/extra.yamlz"));
  assert(matches("\\Asecrets/x", "secrets/x.yaml"));
  assert(!matches("\\Asecrets/x", "a/secrets/x.yaml"));
  assert(matches("(?i)^secrets/EXTRA\\.yaml$", "secrets/extra.yaml"));
  assert(matches("^secrets/(?P<n>extra)\\.yaml$", "secrets/extra.yaml"));
  assert(matches("^secrets/\\pL+\\.yaml$", "secrets/été.yaml"));
  assert(matches("^secrets/\\p{Greek}+\\.yaml$", "secrets/αβ.yaml"));
  assert(matches("^secrets/[[:alpha:]]+\\.yaml$", "secrets/abc.yaml"));
  assert(matches("^\\Qsecrets/a.b\\E$", "secrets/a.b"));
  assert(!matches("^\\Qsecrets/a.b\\E$", "secrets/aXb"));
  assert(matches("secrets/[^/]+\\.(yaml|json)$", "secrets/a.json"));
});

Deno.test("re2ToRegExp() refuses what RE2 or JavaScript cannot read, naming it", () => {
  assertThrows(() => re2ToRegExp("^(a)\\1$"), "backreference");
  assertThrows(() => re2ToRegExp("^a(?=b)"), "the group (?=");
  assertThrows(() => re2ToRegExp("^a(?-i)b"), "(?-i)");
});
