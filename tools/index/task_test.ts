// `deno task index` as users run it: a subprocess with deno.json's permissions, git on a PATH
// outside the repository.
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/assert.ts";
import { fleetTree } from "../testing/repo_fixture.ts";
import { createProgramsBin, installToolkit, runTask } from "../testing/task.ts";
import { createTempRepo } from "../testing/temp_repo.ts";
import { snapshotTree } from "../testing/tree_snapshot.ts";

const CANNOT_FIND = /^error: Cannot find the repository: .*; run inside it or pass --repo/;

Deno.test("deno task index writes the eight indexes, then index --check finds them current", async () => {
  await using repo = await createTempRepo(fleetTree());
  await installToolkit(repo.dir);
  await using bin = await createProgramsBin(["git"]);

  const stale = await runTask(repo.dir, "index", ["--check"], { bin });
  assertEquals(stale.code, 1, stale.stderr);
  assertStringIncludes(stale.stderr, "8 of 8 index files are stale; run: deno task index");

  const written = await runTask(repo.dir, "index", [], { bin });
  assertEquals(written.code, 0, written.stderr);
  assertStringIncludes(written.stderr, "Wrote 8 of 8 index files");
  assertStringIncludes(
    await Deno.readTextFile(repo.path("modules/nixos/nixos-modules.nix")),
    "mixin-openssh = ./mixins/mixin-openssh.nix;",
  );

  const current = await runTask(repo.dir, "index", ["--check"], { bin });
  assertEquals(current.code, 0, current.stderr);
  assertStringIncludes(current.stderr, "All 8 index files are current");
});

Deno.test("deno task index creates an index's folder that does not exist yet", async () => {
  const tree = fleetTree();
  delete tree["modules/shared/nix-registry.nix"];
  delete tree["modules/home/.keep"];
  await using repo = await createTempRepo(tree);
  await installToolkit(repo.dir);
  await using bin = await createProgramsBin(["git"]);

  const result = await runTask(repo.dir, "index", [], { bin });
  assertEquals(result.code, 0, result.stderr);
  assertEquals(
    await Deno.readTextFile(repo.path("modules/shared/shared-modules.nix")).then(
      (text) => text.includes("{"),
    ),
    true,
  );
  assert(await Deno.stat(repo.path("modules/home/home-modules.nix")).then((s) => s.isFile));
  const check = await runTask(repo.dir, "index", ["--check"], { bin });
  assertEquals(check.code, 0, check.stderr);
});

Deno.test("deno task index outside a fleet repository names the cause, not a permission", async () => {
  // The toolkit alone: deno task runs in its folder, which holds no flake.nix; the walk up
  // reaches folders deno.json's --allow-read=. does not cover.
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "devops-norepo-" }));
  try {
    await installToolkit(dir);
    await using bin = await createProgramsBin(["git"]);
    const before = await snapshotTree(dir);
    for (const args of [[], ["--check"], ["--repo", "tools"], ["--repo", "/"]]) {
      const result = await runTask(dir, "index", args, { bin });
      assertEquals(result.code, 2, `${args}: ${result.stderr}`);
      assertMatch(result.stderr, CANNOT_FIND);
      assertEquals(result.stderr.trim().split("\n").length, 1, result.stderr);
      assert(!result.stderr.includes("Requires"), result.stderr);
    }
    assertEquals(await snapshotTree(dir), before);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task index --repo names a folder inside the repository or its root", async () => {
  await using repo = await createTempRepo(fleetTree());
  await installToolkit(repo.dir);
  await using bin = await createProgramsBin(["git"]);
  const outside = await Deno.makeTempDir({ prefix: "devops-elsewhere-" });
  try {
    const nested = await runTask(repo.dir, "index", ["--repo", "configurations/web1"], { bin });
    assertEquals(nested.code, 0, nested.stderr);
    assertStringIncludes(nested.stderr, "Wrote 8 of 8 index files");

    const elsewhere = await runTask(repo.dir, "index", ["--repo", outside], { bin });
    assertEquals(elsewhere.code, 2, elsewhere.stderr);
    assertMatch(elsewhere.stderr, CANNOT_FIND);
    assertStringIncludes(elsewhere.stderr, outside);

    const missing = await runTask(repo.dir, "index", ["--repo", "no/such/folder"], { bin });
    assertEquals(missing.code, 2, missing.stderr);
    assertMatch(missing.stderr, /^error: Cannot find the repository: ".*no\/such\/folder" does/);
  } finally {
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("two deno task index runs at once both succeed and leave no temporary files", async () => {
  await using repo = await createTempRepo(fleetTree());
  await installToolkit(repo.dir);
  await using bin = await createProgramsBin(["git"]);
  const [a, b] = await Promise.all([
    runTask(repo.dir, "index", [], { bin }),
    runTask(repo.dir, "index", [], { bin }),
  ]);
  assertEquals([a.code, b.code], [0, 0], a.stderr + b.stderr);
  const check = await runTask(repo.dir, "index", ["--check"], { bin });
  assertEquals(check.code, 0, check.stderr);
  const leftovers = [...(await snapshotTree(repo.dir)).keys()].filter((p) => p.endsWith(".tmp"));
  assertEquals(leftovers, []);
});

Deno.test("deno task index: a --repo that is a file or missing its folder, and an index that is a folder, get one line naming the cause; nothing changes", async () => {
  await using repo = await createTempRepo(fleetTree());
  await installToolkit(repo.dir);
  await using bin = await createProgramsBin(["git"]);
  assertEquals((await runTask(repo.dir, "index", [], { bin })).code, 0);
  await Deno.remove(repo.path("overlays/overlays.nix"));
  await Deno.mkdir(repo.path("overlays/overlays.nix"));
  await repo.write({ "modules/nixos/mixins/mixin-sudo.nix": "{ }\n" });
  const before = await snapshotTree(repo.dir);
  const cases: [string[], number, RegExp][] = [
    [
      ["--repo", "flake.nix"],
      2,
      /^error: Cannot find the repository: ".*\/flake\.nix" is not a folder;/,
    ],
    [["--repo"], 2, /^error: --repo needs a folder;/],
    [["--check", "--repo"], 2, /^error: --repo needs a folder;/],
    [[], 1, /^error: Cannot read overlays\/overlays\.nix: it is a folder; remove it/],
    [["--check"], 1, /^error: Cannot read overlays\/overlays\.nix: it is a folder; remove it/],
  ];
  for (const [args, code, message] of cases) {
    const result = await runTask(repo.dir, "index", args, { bin });
    assertEquals(result.code, code, `${args}: ${result.stderr}`);
    assertMatch(result.stderr, message);
    assertEquals(result.stderr.trim().split("\n").length, 1, result.stderr);
  }
  assertEquals(await snapshotTree(repo.dir), before);
});

Deno.test("deno task index removes the temporary files of a run killed between write and rename", async () => {
  await using repo = await createTempRepo(fleetTree());
  await installToolkit(repo.dir);
  await using bin = await createProgramsBin(["git"]);
  // What a SIGKILL mid-write leaves (writeFileAtomic's `.<name>.<8 hex>.tmp`), untracked and not
  // ignored: `git add -A` would commit it. A fresh one may be a running index's own.
  const old = new Date("2001-02-03T04:05:06Z");
  const left = [
    "overlays/.overlays.nix.0b696578.tmp",
    "configurations/.nixos-configurations.nix.39a218aa.tmp",
  ];
  await repo.write({
    [left[0]!]: "# half an index",
    [left[1]!]: "",
    "overlays/.overlays.nix.1234abcd.tmp": "# a running index's",
    "overlays/.notes.tmp": "not the tool's",
  });
  for (const path of left) await Deno.utime(repo.path(path), old, old);
  const check = await runTask(repo.dir, "index", ["--check"], { bin });
  assertEquals(check.code, 1, check.stderr);
  for (const path of left) {
    assert(await Deno.stat(repo.path(path)).then(() => true), `${path} kept`);
  }
  const result = await runTask(repo.dir, "index", [], { bin });
  assertEquals(result.code, 0, result.stderr);
  const temps = [...(await snapshotTree(repo.dir)).keys()].filter((p) => p.endsWith(".tmp"));
  assertEquals(temps.sort(), ["overlays/.notes.tmp", "overlays/.overlays.nix.1234abcd.tmp"]);
});
