// Runs the index tool as a process against real git repositories and checks its output with nix.
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { fleetTree } from "../testing/repo_fixture.ts";
import { runProgram } from "../testing/run.ts";
import { createTempRepo } from "../testing/temp_repo.ts";
import { INDEX_SPECS } from "../lib/index/mod.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

function run(cmd: string, args: string[]) {
  return runProgram([cmd, ...args]);
}

function index(dir: string, ...args: string[]) {
  return run("deno", [
    "run",
    "--allow-read",
    "--allow-write",
    "--allow-run",
    "--allow-env",
    MAIN,
    "--repo",
    dir,
    ...args,
  ]);
}

/** An index evaluated by nix, its paths as strings (plain --json would copy them to the store). */
async function evalIndex(
  file: string,
): Promise<{ code: number; value: Record<string, string>; stderr: string }> {
  const expr = `builtins.mapAttrs (_: toString) (import ${file})`;
  const out = await run("nix-instantiate", ["--eval", "--strict", "--json", "--expr", expr]);
  return {
    code: out.code,
    value: out.code === 0 ? JSON.parse(out.stdout) : {},
    stderr: out.stderr,
  };
}

async function snapshot(dir: string): Promise<Record<string, string | null>> {
  const result: Record<string, string | null> = {};
  for (const spec of INDEX_SPECS) {
    result[spec.path] = await Deno.readTextFile(`${dir}/${spec.path}`).catch(() => null);
  }
  return result;
}

Deno.test("index writes eight files that nix parses and whose paths exist", async () => {
  await using repo = await createTempRepo(fleetTree());
  const first = await index(repo.dir);
  assertEquals(first.code, 0, first.stderr);
  assertStringIncludes(first.stderr, "Wrote 8 of 8 index files");
  for (const spec of INDEX_SPECS) {
    const file = repo.path(spec.path);
    const parsed = await run("nix-instantiate", ["--parse", file]);
    assertEquals(parsed.code, 0, `${spec.path}: ${parsed.stderr}`);
    const evaluated = await evalIndex(file);
    assertEquals(evaluated.code, 0, `${spec.path}: ${evaluated.stderr}`);
    for (const [key, path] of Object.entries(evaluated.value)) {
      assert(path.startsWith(repo.dir), `${spec.path}: ${key} is ${path}`);
      const exists = await Deno.stat(path).then(() => true, () => false);
      assert(exists, `${spec.path}: ${key} points at missing ${path}`);
    }
  }
  const nixos = (await evalIndex(repo.path("modules/nixos/nixos-modules.nix"))).value;
  assertEquals(Object.keys(nixos).sort(), [
    "hardware-qemu-guest",
    "mixin-nix",
    "mixin-openssh",
    "profile-common",
    "programs-helix",
    "service-kopia",
    "theme-console",
  ]);
  const hosts = (await evalIndex(repo.path("configurations/nixos-configurations.nix"))).value;
  assertEquals(Object.keys(hosts), ["dev-vm", "web1"]);

  // An old mtime, so a rewrite shows even within the file system's timestamp resolution.
  const before = { mtime: new Date("2001-02-03T04:05:06Z") };
  await Deno.utime(repo.path("overlays/overlays.nix"), before.mtime, before.mtime);
  const second = await index(repo.dir, "--json");
  assertEquals(second.code, 0);
  const report = JSON.parse(second.stdout) as { indexes: { status: string }[] };
  assertEquals(report.indexes.map((i) => i.status), Array(8).fill("current"));
  assertEquals((await Deno.stat(repo.path("overlays/overlays.nix"))).mtime, before.mtime);
});

Deno.test("index --check exits 1 with a diff for a stale index and changes nothing", async () => {
  await using repo = await createTempRepo(fleetTree());
  assertEquals((await index(repo.dir)).code, 0);
  assertEquals((await index(repo.dir, "--check")).code, 0);
  await repo.write({ "modules/nixos/mixins/mixin-sudo.nix": "# sudo\n{ }\n" });
  const before = await snapshot(repo.dir);
  const check = await index(repo.dir, "--check");
  assertEquals(check.code, 1);
  assertStringIncludes(check.stdout, "+++ b/modules/nixos/nixos-modules.nix");
  assertStringIncludes(check.stdout, "+  mixin-sudo = ./mixins/mixin-sudo.nix;");
  assertStringIncludes(check.stderr, "1 of 8 index files are stale");
  assertEquals(await snapshot(repo.dir), before);
});

Deno.test("index --dry-run prints what it would write, writes nothing and exits 0", async () => {
  await using repo = await createTempRepo(fleetTree());
  const result = await index(repo.dir, "--dry-run");
  assertEquals(result.code, 0, result.stderr);
  assertStringIncludes(result.stdout, "+  mixin-nix = ./mixins/mixin-nix.nix;");
  assertStringIncludes(result.stderr, "Would write 8 of 8 index files; wrote nothing");
  assertEquals(Object.values(await snapshot(repo.dir)), Array(8).fill(null));
});

Deno.test("index refuses a name collision with one line naming both files, writing nothing", async () => {
  await using repo = await createTempRepo({
    ...fleetTree(),
    "modules/nixos/mixins/nix.nix": "{ }\n",
  });
  const result = await index(repo.dir);
  assertEquals(result.code, 1);
  assertEquals(result.stderr.trim().split("\n").length, 1, result.stderr);
  assertStringIncludes(
    result.stderr,
    `"modules/nixos/mixins/mixin-nix.nix" and "modules/nixos/mixins/nix.nix"`,
  );
  assertEquals(Object.values(await snapshot(repo.dir)), Array(8).fill(null));
});

Deno.test("index warns about a file git does not track", async () => {
  await using repo = await createTempRepo(fleetTree());
  await repo.write({ "overlays/untracked.nix": "final: prev: { }\n" });
  const result = await index(repo.dir);
  assertEquals(result.code, 0);
  assertStringIncludes(result.stderr, `warning: "overlays/untracked.nix" is not tracked by git`);
  await repo.git("add", "overlays/untracked.nix");
  assert(!(await index(repo.dir)).stderr.includes("warning"), "a staged file needs no warning");
});

Deno.test("index --help exits 0 and a bad flag exits 2", async () => {
  const help = await run("deno", ["run", "--allow-read", "--allow-env", MAIN, "--help"]);
  assertEquals(help.code, 0);
  assertStringIncludes(help.stdout, "--check");
  const bad = await run("deno", ["run", "--allow-read", "--allow-env", MAIN, "--frobnicate"]);
  assertEquals(bad.code, 2);
  assertEquals(bad.stderr.trim(), `error: Unknown argument "--frobnicate"; see --help`);
});

Deno.test("index leaves out a tracked file deleted from disk and an ignored one", async () => {
  await using repo = await createTempRepo(fleetTree());
  await Deno.remove(repo.path("modules/nixos/mixins/mixin-openssh.nix"));
  await repo.write({
    ".gitignore": "local-*.nix\n",
    "modules/nixos/mixins/local-secret.nix": "{ }\n",
  });
  const result = await index(repo.dir);
  assertEquals(result.code, 0, result.stderr);
  const nixos = await Deno.readTextFile(repo.path("modules/nixos/nixos-modules.nix"));
  assert(!nixos.includes("mixin-openssh"), nixos);
  assert(!nixos.includes("local-secret"), nixos);
  assertStringIncludes(nixos, "mixin-nix = ./mixins/mixin-nix.nix;");
});

Deno.test("index: a collision with a file deleted from disk is no collision", async () => {
  // The plan is made from git's index first; the deletion, reported later, must still count.
  await using repo = await createTempRepo({
    ...fleetTree(),
    "modules/nixos/mixins/nix.nix": "{ }\n",
  });
  await Deno.remove(repo.path("modules/nixos/mixins/nix.nix"));
  const result = await index(repo.dir);
  assertEquals(result.code, 0, result.stderr);
  assertStringIncludes(
    await Deno.readTextFile(repo.path("modules/nixos/nixos-modules.nix")),
    "mixin-nix = ./mixins/mixin-nix.nix;",
  );
});

Deno.test("index outside a git checkout lists the folders on disk", async () => {
  await using repo = await createTempRepo(fleetTree());
  await Deno.remove(repo.path(".git"), { recursive: true });
  const result = await index(repo.dir);
  assertEquals(result.code, 0, result.stderr);
  assert(!result.stderr.includes("warning"), result.stderr);
  assertStringIncludes(
    await Deno.readTextFile(repo.path("modules/nixos/nixos-modules.nix")),
    "mixin-openssh = ./mixins/mixin-openssh.nix;",
  );
});
