// Every user-facing task in deno.json, run as users run it: `deno task <name> …` as a subprocess,
// with deno.json's own permissions and the programs on a PATH outside the repository.
// A task added to deno.json later fails this file until it has --help, a --dry-run row (or a
// stated reason for none) and a real run in some test.
import { assert, assertEquals, assertMatch } from "./testing/assert.ts";
import {
  CHECKOUT,
  createProgramsBin,
  createRepoCopy,
  type ProgramsBin,
  runTask,
} from "./testing/task.ts";
import { runProgramOk } from "./testing/run.ts";
import { createExampleClone, EXAMPLE_ADMIN_KEY_FILE } from "./testing/example_clone.ts";
import type { TempRepo } from "./testing/temp_repo.ts";
import { snapshotTree } from "./testing/tree_snapshot.ts";

const THIS_FILE = new URL(import.meta.url).pathname;

/** Tasks for developers of the toolkit, not for users of the fleet. */
const DEVELOPER_TASKS = new Set(["check", "test", "fmt", "lint"]);

/** The user-facing tasks of a deno.json: all but `bench*`, check, test, fmt and lint. */
export function userFacingTasks(denoJson: { tasks?: Record<string, unknown> }): string[] {
  return Object.keys(denoJson.tasks ?? {})
    .filter((name) => !name.startsWith("bench") && !DEVELOPER_TASKS.has(name))
    .sort();
}

const TASKS = userFacingTasks(JSON.parse(await Deno.readTextFile(`${CHECKOUT}/deno.json`)));

/** A dry run's arguments and environment, made per run (e.g. with a fresh key). */
type DryRunArgs = (
  bin: ProgramsBin,
  repo: TempRepo,
) => Promise<{ args: string[]; env?: Record<string, string> }>;

/** The example admin key of the example state (its private half is public on purpose). */
const EXAMPLE_ADMIN_KEY = EXAMPLE_ADMIN_KEY_FILE;

/**
 * Each task's --dry-run row, run on a clone of this repository's example state; a string instead says why this
 * file has no row for it (the row then lives with the task's own tests).
 */
const DRY_RUNS: Record<string, DryRunArgs | string> = {
  // A committed new module: a real run would rewrite modules/nixos/nixos-modules.nix.
  index: async (_bin, repo) => {
    await repo.write({ "modules/nixos/mixins/mixin-extra.nix": "# extra\n{ ... }:\n{\n}\n" });
    await repo.git("add", "-A");
    await repo.git("commit", "-q", "-m", "a module the index does not name yet");
    return { args: ["--dry-run"] };
  },
  // In step, so the dry run decrypts nothing; its changing dry runs are in tools/secrets/.
  rekey: (_bin, repo) =>
    Promise.resolve({
      args: ["--dry-run"],
      env: { SOPS_AGE_KEY_FILE: repo.path(EXAMPLE_ADMIN_KEY) },
    }),
  // A real run would write .sops.yaml and re-encrypt every file under secrets/.
  // The new admin's name is one the repository has no anchor for, whoever owns it.
  secrets: async (bin, repo) => ({
    args: ["--dry-run", "admin", "add", await unusedAdminName(repo), await newAgeRecipient(bin)],
    env: { SOPS_AGE_KEY_FILE: repo.path(EXAMPLE_ADMIN_KEY) },
  }),
  // A real run would scaffold configurations/<name>/, make a key and write .sops.yaml, secrets/
  // and the indexes. The name is one the repository does not use, whoever owns it.
  host: async (_bin, repo) => ({
    args: [
      "new",
      await unusedHostName(repo),
      "--profile",
      "server",
      "--disk",
      "/dev/sda",
      "--dry-run",
    ],
  }),
  // No admin key yet: the dry run would make one (and every other change), and makes nothing.
  init: (bin) =>
    Promise.resolve({
      args: ["--dry-run", "--name", "me"],
      env: { SOPS_AGE_KEY_FILE: `${bin.dir}/no-key-yet/keys.txt` },
    }),
  // The whole first-install plan, with no private key at hand: nothing is touched.
  install: () => Promise.resolve({ args: ["nas1", "--target", "127.0.0.1", "--dry-run"] }),
  iso: "builds the installer image, which needs the fleet's flake inputs; tools/iso/iso_test.ts " +
    "runs its --dry-run against the fixture flake",
  demo: "needs no repository of the user's: its --dry-run row is in tools/demo/demo_test.ts",
  update: "asks upstream over the network; tools/update/main_test.ts runs its --dry-run " +
    "against a local upstream",
  // Host facts come from lib/hosts.nix, so the plan needs no flake input: it works offline.
  deploy: () => Promise.resolve({ args: ["--all", "--dry-run"] }),
  // Asks nothing: prints the one ssh command per host and the --eval it would run.
  status: () => Promise.resolve({ args: ["--all", "--eval", "--dry-run"] }),
  // The plan only (facts from lib/hosts.nix, dev-vm's example key): no build, no VM.
  vm: () => Promise.resolve({ args: ["dev-vm", "--dry-run"] }),
};

/** A host name with no folder under configurations/ in the repository. */
async function unusedHostName(repo: TempRepo): Promise<string> {
  for (let n = 1;; n++) {
    const name = `newhost${n}`;
    if (!await Deno.stat(repo.path(`configurations/${name}`)).then(() => true, () => false)) {
      return name;
    }
  }
}

/** An admin name with no `&admin_<name>` anchor in the repository's .sops.yaml. */
async function unusedAdminName(repo: TempRepo): Promise<string> {
  const sopsYaml = await Deno.readTextFile(repo.path(".sops.yaml"));
  for (let n = 1;; n++) {
    const name = `newadmin${n}`;
    if (!sopsYaml.includes(`&admin_${name}`)) return name;
  }
}

/**
 * Tasks with no real run (a runTask call outside this file) yet, and why. The check below fails
 * when a listed task IS covered, so this list shrinks as the fixes land and cannot go stale.
 */
const KNOWN_UNCOVERED: Record<string, string> = {};

/** Task names given as a string literal to runTask( in a test's source. */
export function tasksRunIn(source: string): Set<string> {
  const found = new Set<string>();
  for (const match of source.matchAll(/runTask\([^,]+,\s*"([a-z][a-z0-9:-]*)"/g)) {
    found.add(match[1]!);
  }
  return found;
}

async function testFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) found.push(...await testFiles(path));
    else if (entry.name.endsWith("_test.ts")) found.push(path);
  }
  return found;
}

Deno.test("tasksRunIn() reads literal task names from runTask calls, one line or several", () => {
  const source = `
    await runTask(repo.dir, "index", ["--json"], { bin });
    const out = await runTask(
      repo.dir,
      "bench:x",
      [],
    );
    runTask(dir, name, []); // not a literal: not counted
    runTask(repo.path("configurations/web1"), "deep", ["--check"]);
    runTask(repo.path("a,b"), "odd"); // a comma in the first argument: not read
  `;
  assertEquals([...tasksRunIn(source)].sort(), ["bench:x", "deep", "index"]);
});

Deno.test("userFacingTasks() leaves out bench*, check, test, fmt and lint", () => {
  const tasks = { a: "", "bench:a": "", bench: "", check: "", test: "", fmt: "", lint: "", z: "" };
  assertEquals(userFacingTasks({ tasks }), ["a", "z"]);
});

Deno.test("every user-facing task has a real run in a test, or a reason in KNOWN_UNCOVERED", async () => {
  const covered = new Map<string, string[]>();
  for (const file of await testFiles(`${CHECKOUT}/tools`)) {
    if (file === THIS_FILE) continue;
    for (const task of tasksRunIn(await Deno.readTextFile(file))) {
      covered.set(task, [...covered.get(task) ?? [], file.slice(CHECKOUT.length + 1)]);
    }
  }
  const problems: string[] = [];
  for (const task of TASKS) {
    const listed = Object.hasOwn(KNOWN_UNCOVERED, task);
    if (!covered.has(task) && !listed) {
      problems.push(
        `task "${task}" has no test calling runTask(…, "${task}", …) outside tools/tasks_test.ts`,
      );
    }
    if (covered.has(task) && listed) {
      problems.push(
        `task "${task}" is covered by ${covered.get(task)!.join(", ")}: ` +
          "remove it from KNOWN_UNCOVERED",
      );
    }
  }
  for (const task of Object.keys(KNOWN_UNCOVERED)) {
    if (!TASKS.includes(task)) problems.push(`KNOWN_UNCOVERED names "${task}", not a task`);
  }
  assertEquals(problems, []);
});

Deno.test("every user-facing task has a --dry-run row or a reason for none", () => {
  assertEquals(TASKS.filter((task) => !Object.hasOwn(DRY_RUNS, task)), []);
  assertEquals(Object.keys(DRY_RUNS).filter((task) => !TASKS.includes(task)), []);
});

for (const task of TASKS) {
  Deno.test(`deno task ${task} --help exits 0 and prints its usage`, async () => {
    await using repo = await createRepoCopy();
    await using bin = await createProgramsBin();
    const result = await runTask(repo.dir, task, ["--help"], { bin });
    assertEquals(result.code, 0, result.stderr);
    assertMatch(result.stdout, /^Usage: /m);
    assertMatch(result.stdout, /--help/);
    assertEquals(await repo.git("status", "--porcelain"), "");
  });

  const dryRun = DRY_RUNS[task];
  if (dryRun === undefined || typeof dryRun === "string") continue;
  Deno.test(`deno task ${task} --dry-run changes nothing in the repository`, async () => {
    // The example fleet from git (its hosts and example keys), whoever owns this repository.
    await using repo = await createExampleClone();
    await using bin = await createProgramsBin();
    const { args, env } = await dryRun(bin, repo);
    const before = await snapshotTree(repo.dir);
    const result = await runTask(repo.dir, task, args, { bin, ...(env ? { env } : {}) });
    assertEquals(result.code, 0, result.stderr);
    assert(result.stdout + result.stderr !== "", "a dry run says what it would do");
    assertEquals(await snapshotTree(repo.dir), before);
    assertEquals(await repo.git("status", "--porcelain"), "");
  });
}

/** A new age public key, from the real age-keygen. */
async function newAgeRecipient(bin: ProgramsBin): Promise<string> {
  const identity = await runProgramOk([`${bin.dir}/age-keygen`]);
  const recipient = identity.match(/^# public key: (age1[0-9a-z]+)$/m)?.[1];
  if (recipient === undefined) throw new Error(`age-keygen printed no public key: ${identity}`);
  return recipient;
}

Deno.test("every user-facing task is a chore in the dev shell's menu, and nothing else is", async () => {
  const devshell = await Deno.readTextFile(`${CHECKOUT}/shells/nixos/devshell.nix`);
  const chores = [...devshell.matchAll(/\(chore "([a-z:-]+)"/g)].map((m) => m[1]!).sort();
  assertEquals(chores, TASKS);
});
