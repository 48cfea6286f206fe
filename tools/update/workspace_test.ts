import { assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { createTempRepo } from "../testing/temp_repo.ts";
import { createProcessRunner } from "../lib/process_runner.ts";
import { createWorkspace, STATE_DIR, takeLock } from "./workspace.ts";

Deno.test("createWorkspace() copies tracked files, so writing in place there leaves the repository alone", async () => {
  await using repo = await createTempRepo({ "flake.lock": "old\n", "pkgs/a/package.nix": "a\n" });
  await repo.write({ "untracked.txt": "x" });
  await using ws = await createWorkspace(createProcessRunner(), repo.dir);
  assertEquals(ws.flake, `path:${ws.dir}`);
  // nix writes flake.lock in place (no rename): a hard link would carry this into the repo.
  const file = await Deno.open(`${ws.dir}/flake.lock`, { write: true, truncate: true });
  await file.write(new TextEncoder().encode("new\n"));
  file.close();
  assertEquals(await Deno.readTextFile(repo.path("flake.lock")), "old\n");
  assertEquals(await Deno.readTextFile(`${ws.dir}/pkgs/a/package.nix`), "a\n");
  await assertRejects(() => Deno.stat(`${ws.dir}/untracked.txt`));
});

Deno.test("takeLock() refuses a second holder, naming the lock; the folder ignores itself", async () => {
  await using repo = await createTempRepo({ "flake.nix": "{ }\n" });
  using _first = await takeLock(repo.dir, "update packages");
  const error = await assertRejects(() => takeLock(repo.dir, "update packages", 100));
  assertStringIncludes(error.message, `another update run holds ${STATE_DIR}/lock`);
  assertEquals((await repo.git("status", "--porcelain")).trim(), "");
});

Deno.test("Workspace.write() replaces a file whole and never makes another name inside the copy", async () => {
  // Packages are worked on at once in one copy, and nix copies the whole folder for each
  // evaluation: a temporary file of one package vanishing under that copy failed another's.
  await using repo = await createTempRepo({
    "pkgs/a/package.nix": "a\n",
    "pkgs/b/package.nix": "b\n",
  });
  await using ws = await createWorkspace(createProcessRunner(), repo.dir);
  const seen = new Set<string>();
  const watcher = Deno.watchFs(ws.dir, { recursive: true });
  const watching = (async () => {
    for await (const event of watcher) for (const path of event.paths) seen.add(path);
  })();
  for (let round = 0; round < 5; round++) {
    assertEquals(await ws.write("pkgs/a/package.nix", `a${round}\n`), true);
  }
  assertEquals(await ws.write("pkgs/a/package.nix", "a4\n"), false);
  // A last, distinct event that must arrive after the writes' own events.
  await Deno.writeTextFile(`${ws.dir}/end`, "");
  while (!seen.has(`${ws.dir}/end`)) await new Promise((resolve) => setTimeout(resolve, 10));
  watcher.close();
  await watching;
  assertEquals([...seen].sort(), [`${ws.dir}/end`, `${ws.dir}/pkgs/a/package.nix`]);
  assertEquals(await Deno.readTextFile(`${ws.dir}/pkgs/a/package.nix`), "a4\n");
});
