import { assert, assertEquals } from "./assert.ts";
import { createTempRepo } from "./temp_repo.ts";

Deno.test("createTempRepo() writes the tree and commits it with real git", async () => {
  let dir: string;
  {
    await using repo = await createTempRepo({
      "a/b.txt": "hello\n",
      "run.sh": { content: "#!/bin/sh\n", mode: 0o755 },
    });
    dir = repo.dir;
    assertEquals(await Deno.readTextFile(repo.path("a/b.txt")), "hello\n");
    assertEquals((await Deno.stat(repo.path("run.sh"))).mode! & 0o777, 0o755);
    assertEquals((await repo.git("ls-files")).trim().split("\n").sort(), ["a/b.txt", "run.sh"]);
    assertEquals((await repo.git("status", "--porcelain")).trim(), "");
    await repo.write({ "a/b.txt": null, "c.txt": "new" });
    assertEquals((await repo.git("status", "--porcelain")).split("\n").filter(Boolean).sort(), [
      " D a/b.txt",
      "?? c.txt",
    ]);
  }
  const gone = await Deno.stat(dir).then(() => false, () => true);
  assert(gone, "the folder is deleted on dispose");
});
