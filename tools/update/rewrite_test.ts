import { assert, assertEquals, assertThrows } from "../testing/assert.ts";
import { hashMismatches } from "./execute.ts";
import { literalOffsets, replaceLiterals, RewriteRefused } from "./rewrite.ts";
import { githubRateLimit, sourceEnvFrom } from "./sources.ts";

const FILE = `{
  version = "1.2.0";
  tag = "v1.2.0";
  hash = "sha256-old";
  description = "version \\"1.2.0\\" of it";
}
`;

Deno.test("literalOffsets() finds whole literals only, not escaped quotes or substrings", () => {
  assertEquals(literalOffsets(FILE, "1.2.0").length, 1);
  assertEquals(literalOffsets(FILE, "v1.2.0").length, 1);
  assertEquals(literalOffsets(FILE, "1.2").length, 0);
});

Deno.test("replaceLiterals() replaces every value exactly where it stands", () => {
  const out = replaceLiterals(FILE, [
    { what: "version", from: "1.2.0", to: "1.3.0" },
    { what: "tag", from: "v1.2.0", to: "v1.3.0" },
    { what: "hash", from: "sha256-old", to: "sha256-new" },
  ], "p.nix");
  assertEquals(
    out,
    FILE.replace(`"1.2.0"`, `"1.3.0"`).replace("v1.2.0", "v1.3.0").replace("-old", "-new"),
  );
});

Deno.test("replaceLiterals() refuses a value that appears twice or not at all, all or nothing", () => {
  const twice = `${FILE}# "sha256-old"\n`;
  const error = assertThrows(
    () => replaceLiterals(twice, [{ what: "hash", from: "sha256-old", to: "sha256-new" }], "p.nix"),
  );
  assert(error instanceof RewriteRefused);
  assertEquals(
    error.message,
    `Cannot rewrite p.nix: the old hash "sha256-old" appears 2 times as a string literal, expected exactly once`,
  );
  assertThrows(
    () => replaceLiterals(FILE, [{ what: "rev", from: "abc", to: "def" }], "p.nix"),
    "Cannot rewrite p.nix",
  );
  // A hostile new value cannot break out of the string.
  assertThrows(
    () => replaceLiterals(FILE, [{ what: "version", from: "1.2.0", to: '1"; x = "' }], "p.nix"),
    "Cannot rewrite p.nix",
  );
  assertThrows(
    () => replaceLiterals(FILE, [{ what: "version", from: "1.2.0", to: "${builtins.x}" }], "p.nix"),
    "Cannot rewrite p.nix",
  );
});

Deno.test("hashMismatches() reads nix's specified/got pairs", () => {
  const stderr = `error: hash mismatch in fixed-output derivation '/nix/store/x-deps.drv':
         specified: sha256-AAAA=
            got:    sha256-BBBB=
error: hash mismatch in fixed-output derivation '/nix/store/y-deps.drv':
         specified: sha256-CCCC=
            got:    sha256-DDDD=
error: 2 dependencies of derivation '/nix/store/z.drv' failed to build`;
  assertEquals([...hashMismatches(stderr)], [["sha256-AAAA=", "sha256-BBBB="], [
    "sha256-CCCC=",
    "sha256-DDDD=",
  ]]);
});

Deno.test("githubRateLimit() gives one line with the reset time, only for a spent limit", () => {
  const now = Date.parse("2026-01-01T10:00:00Z");
  const spent = new Response(null, {
    status: 403,
    headers: { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(now / 1000 + 750) },
  });
  assertEquals(
    githubRateLimit(spent, now),
    "GitHub API rate limit reached; it resets at 10:12:30 UTC (in 13 min); set GITHUB_TOKEN for a higher limit",
  );
  const forbidden = new Response(null, { status: 403, headers: { "x-ratelimit-remaining": "42" } });
  assertEquals(githubRateLimit(forbidden, now), undefined);
});

Deno.test("sourceEnvFrom() takes base URLs from the environment and refuses non-http ones", () => {
  const env = sourceEnvFrom(
    (name) => ({ GITHUB_API_URL: "http://127.0.0.1:9/", GITHUB_TOKEN: " t " })[name],
    1000,
  );
  assertEquals(env.githubApiUrl, "http://127.0.0.1:9");
  assertEquals(env.githubToken, "t");
  assertEquals(env.npmRegistryUrl, "https://registry.npmjs.org");
  assertThrows(() => sourceEnvFrom((n) => n === "NPM_REGISTRY_URL" ? "file:///etc" : undefined, 1));
});
