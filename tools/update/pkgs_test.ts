// The repository's own packages are ready for the update tool: their update facts evaluate,
// name a known source and track, and every value the tool rewrites appears exactly once.
import { assertEquals, assertMatch } from "../testing/assert.ts";
import { runProgramOk } from "../testing/run.ts";
import { CHECKOUT } from "../testing/task.ts";
import { factsExpression, type PackageFacts } from "./facts.ts";
import { requireOnce } from "./rewrite.ts";
import { SOURCES } from "./sources.ts";
import { packageFile } from "./execute.ts";

// nixpkgs cannot be fetched here: each package is called with stand-ins for its arguments
// (fetchFromGitHub keeps its arguments and gains the attributes nixpkgs' version has).
const STUBS = `{
  lib = { makeBinPath = _: ""; licenses = { }; platforms = { }; };
  stdenvNoCC.mkDerivation = a: a // (a.passthru or { });
  fetchFromGitHub = a: a // {
    name = "source";
    outputHash = a.hash;
    urls = [ "https://github.com/\${a.owner}/\${a.repo}/archive/\${a.rev}.tar.gz" ];
  };
}`;

Deno.test("the packages in pkgs/ have update facts the tool can act on", async () => {
  const names: string[] = [];
  for await (const entry of Deno.readDir(`${CHECKOUT}/pkgs`)) {
    if (entry.isDirectory) names.push(entry.name);
  }
  names.sort();
  const calls = names.map((name) => `"${name}" = call ${CHECKOUT}/${packageFile(name)};`).join(
    "\n",
  );
  const expr = `let
    stubs = ${STUBS};
    call = file: let f = import file; in
      f (builtins.mapAttrs (name: _: stubs.\${name} or null) (builtins.functionArgs f));
    facts = ${factsExpression(null)};
  in facts { ${calls} }`;
  const facts = JSON.parse(
    await runProgramOk(["nix", "eval", "--json", "--impure", "--expr", expr]),
  ) as Record<string, PackageFacts>;
  assertEquals(Object.keys(facts).sort(), names);
  for (const name of names) {
    const f = facts[name]!;
    const info = f.updateInfo as { source: string };
    const parsed = SOURCES[info.source]!.schema.parse(info);
    assertEquals(parsed.track, "branch", `${name} follows a branch`);
    assertMatch(f.version ?? "", /^0-unstable-\d{4}-\d{2}-\d{2}$/);
    const text = await Deno.readTextFile(`${CHECKOUT}/${packageFile(name)}`);
    const file = packageFile(name);
    requireOnce(text, f.version!, "version", file);
    requireOnce(text, f.src!.rev!, "rev", file);
    requireOnce(text, f.src!.hash!, "source hash", file);
  }
});
