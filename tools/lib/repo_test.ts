import { assertEquals, assertRejects } from "../testing/assert.ts";
import { UsageError } from "./errors.ts";
import { findRepoRoot } from "./repo.ts";

Deno.test("findRepoRoot() walks up to the folder with flake.nix and configurations/", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  await Deno.mkdir(`${dir}/configurations/web1`, { recursive: true });
  await Deno.writeTextFile(`${dir}/flake.nix`, "{ }");
  assertEquals(await findRepoRoot(`${dir}/configurations/web1`), dir);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("findRepoRoot() names the cause when there is no repository", async () => {
  const dir = await Deno.makeTempDir();
  await assertRejects(() => findRepoRoot(dir), UsageError, "Cannot find the repository");
  await assertRejects(() => findRepoRoot(dir, `${dir}/nope`), UsageError, "does not exist");
  await assertRejects(() => findRepoRoot("/", dir), UsageError, "run inside it or pass --repo");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("findRepoRoot() walks up from an explicit folder inside the repository", async () => {
  const dir = await Deno.realPath(await Deno.makeTempDir());
  await Deno.mkdir(`${dir}/configurations/web1`, { recursive: true });
  await Deno.writeTextFile(`${dir}/flake.nix`, "{ }");
  assertEquals(await findRepoRoot("/", `${dir}/configurations/web1`), dir);
  assertEquals(await findRepoRoot("/", dir), dir);
  await Deno.remove(dir, { recursive: true });
});
