// nix's own error, whole, in one line: a hash mismatch keeps its specified/got lines.
import { assertMatch } from "../testing/assert.ts";
import { runProgram } from "../testing/run.ts";
import { CommandError } from "../lib/errors.ts";
import { nixFailure } from "./nix_errors.ts";

Deno.test("nixFailure() passes on a hash mismatch with its specified: and got: lines, in one line", async () => {
  const dir = await Deno.makeTempDir({ prefix: "devops-nix-errors-" });
  try {
    await Deno.writeTextFile(`${dir}/file`, "content\n");
    const expr =
      `builtins.fetchurl { url = "file://${dir}/file"; sha256 = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; }`;
    const result = await runProgram(["nix", "eval", "--impure", "--expr", expr]);
    const line = nixFailure(new CommandError("nix eval", result.code, result.stderr));
    assertMatch(
      line,
      /^hash mismatch in file downloaded from 'file:\/\/.*\/file': specified: sha256:\S+ got: sha256:\S+$/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
