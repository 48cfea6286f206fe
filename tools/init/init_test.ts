// `deno task init` on a fresh clone of this repository, as a new owner runs it: afterwards no
// private key the repository's history ever held decrypts any file under secrets/, the new admin
// key decrypts all, the checks pass, and a second run changes nothing. --dry-run and bad input
// change nothing.
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { createProgramsBin, type ProgramsBin, runTask } from "../testing/task.ts";
import { runProgram, runProgramOk } from "../testing/run.ts";
import type { TempRepo } from "../testing/temp_repo.ts";
import { snapshotTree } from "../testing/tree_snapshot.ts";
import YAML from "yaml";
import {
  committedIdentities,
  createFreshClone,
  EXAMPLE_ADMIN_KEY_FILE,
  INIT_PROGRAMS,
} from "./_test_support.ts";

/** A temporary HOME with an admin age key and an SSH key of the new owner. */
export interface Owner extends AsyncDisposable {
  home: string;
  adminKey: string;
  recipient: string;
  sshPub: string;
  /** Every committed private key, one age identity a line (0600). */
  historyKeys: string;
}

/** Makes the owner's keys; `repo`'s history gives the committed keys. */
export async function createOwner(repo: TempRepo): Promise<Owner> {
  const home = await Deno.realPath(await Deno.makeTempDir({ prefix: "init-home-" }));
  const adminKey = `${home}/admin.txt`;
  await runProgramOk(["age-keygen", "-o", adminKey]);
  const recipient = (await runProgramOk(["age-keygen", "-y", adminKey])).trim();
  await runProgramOk([
    "ssh-keygen",
    "-q",
    "-t",
    "ed25519",
    "-N",
    "",
    "-C",
    "me@laptop",
    "-f",
    `${home}/id`,
  ]);
  const identities = await committedIdentities(repo);
  const historyKeys = `${home}/history-keys.txt`;
  await Deno.writeTextFile(historyKeys, `${identities.join("\n")}\n`, { mode: 0o600 });
  return {
    home,
    adminKey,
    recipient,
    sshPub: `${home}/id.pub`,
    historyKeys,
    async [Symbol.asyncDispose]() {
      await Deno.remove(home, { recursive: true }).catch(() => {});
    },
  };
}

/** init's arguments for `owner`, with no question asked. */
export function initArgs(owner: Owner, extra: string[] = []): string[] {
  return [
    "--name",
    "me",
    "--admin-key-file",
    owner.adminKey,
    "--ssh-key-file",
    owner.sshPub,
    "--yes",
    ...extra,
  ];
}

/** Deno's cache as this process uses it: a run with another HOME must not fetch its packages. */
const DENO_DIR = Deno.env.get("DENO_DIR") ??
  `${Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`}/deno`;

/** The environment of a run: the owner's HOME, sops's key file theirs too. */
export function ownerEnv(owner: Owner, keyFile = owner.adminKey): Record<string, string> {
  return { HOME: owner.home, SOPS_AGE_KEY_FILE: keyFile, DENO_DIR };
}

/** Every file under secrets/. */
export async function secretFiles(repo: TempRepo): Promise<string[]> {
  const out = await runProgramOk(["find", "secrets", "-type", "f"], { cwd: repo.dir });
  return out.trim().split("\n").filter(Boolean).sort();
}

/** Real `sops decrypt` of `path` with the identities in `keyFile` (and no other). */
export function decrypt(repo: TempRepo, path: string, keyFile: string) {
  return runProgram(["sops", "decrypt", path], {
    cwd: repo.dir,
    env: { SOPS_AGE_KEY_FILE: keyFile, SOPS_AGE_KEY: "", HOME: "/nonexistent" },
  });
}

/** What init guarantees once it has finished, however it got there. */
export async function assertMadeYours(repo: TempRepo, owner: Owner, bin: ProgramsBin) {
  const files = await secretFiles(repo);
  assert(files.length > 0, "secrets/ keeps files");
  for (const path of files) {
    const mine = await decrypt(repo, path, owner.adminKey);
    assertEquals(mine.code, 0, `${path}: the new admin key decrypts it: ${mine.stderr}`);
    const old = await decrypt(repo, path, owner.historyKeys);
    assert(old.code !== 0, `${path}: a key from the repository's history still decrypts it`);
  }
  const sopsYaml = await Deno.readTextFile(repo.path(".sops.yaml"));
  assert(!sopsYaml.includes("EXAMPLE admin key"), sopsYaml);
  assert(!sopsYaml.includes("&admin_example"), sopsYaml);
  assertMatch(sopsYaml, new RegExp(`&admin_me ${owner.recipient}`));
  const admins = await Deno.readTextFile(repo.path("lib/admins.nix"));
  assert(admins.includes((await Deno.readTextFile(owner.sshPub)).trim()), admins);
  assert(!admins.includes("example"), admins);
  for (
    const gone of [EXAMPLE_ADMIN_KEY_FILE, "configurations/dev-vm/example_ssh_host_ed25519_key"]
  ) {
    assert(!await exists(repo.path(gone)), `${gone} is deleted`);
  }
  // dev-vm's new private key is where the VM reads it, and git ignores it.
  const devVmKey = ".data/dev-vm-keys/ssh_host_ed25519_key";
  assert(await exists(repo.path(devVmKey)), devVmKey);
  assertEquals(
    (await runProgram(["git", "check-ignore", "-q", devVmKey], { cwd: repo.dir })).code,
    0,
  );
  // No new file git would commit holds a private key.
  const untracked = await repo.git("ls-files", "--others", "--exclude-standard");
  assert(!/key/.test(untracked), untracked);
  for (const [task, args] of [["rekey", ["--check"]], ["index", ["--check"]]] as const) {
    const check = await runTask(repo.dir, task, args, { bin });
    assertEquals(check.code, 0, `${task} ${args.join(" ")}: ${check.stdout}${check.stderr}`);
  }
  assert(!await exists(repo.path(".rekey-journal")), "no journal left");
}

/** A file's data key, unwrapped from its age stanza for `keyFile`'s identity (kept in memory). */
export async function dataKey(sopsText: string, keyFile: string): Promise<string | undefined> {
  const stanzas = YAML.parse(sopsText).sops.age as { enc: string }[];
  for (const { enc } of stanzas) {
    const r = await runProgram(["age", "-d", "-i", keyFile], { stdin: enc });
    if (r.code === 0) return r.stdout;
  }
  return undefined;
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

Deno.test("init on a fresh clone: no committed key decrypts any secret, the new admin all; a second run is a no-op", async () => {
  await using repo = await createFreshClone();
  await using owner = await createOwner(repo);
  await using bin = await createProgramsBin(INIT_PROGRAMS);
  // The harvest works: before init, the committed keys decrypt every file.
  const before = await secretFiles(repo);
  assert(before.length >= 3, before.join(", "));
  for (const path of before) {
    const r = await decrypt(repo, path, owner.historyKeys);
    assertEquals(r.code, 0, `${path}: the committed keys decrypt it before init: ${r.stderr}`);
  }
  const first = await runTask(repo.dir, "init", initArgs(owner), { bin, env: ownerEnv(owner) });
  assertEquals(first.code, 0, first.stderr);
  await assertMadeYours(repo, owner, bin);
  // Every data key changed (sops rotate, not only updatekeys): an old copy of a file, or its
  // data key, opens nothing now.
  for (const path of await secretFiles(repo)) {
    const old = await dataKey(await repo.git("show", `HEAD:${path}`), owner.historyKeys);
    const now = await dataKey(await Deno.readTextFile(repo.path(path)), owner.adminKey);
    assert(old !== undefined && now !== undefined, path);
    assert(old !== now, `${path}: its data key is new`);
  }
  // The example hosts and user are gone; the closing list names what was public, with commands.
  for (const gone of ["configurations/nas1", "configurations/desk1", "secrets/users/sam"]) {
    assert(!await exists(repo.path(gone)), `${gone} is removed`);
  }
  assertMatch(first.stdout, /were public/);
  assertMatch(
    first.stdout,
    /secrets\/shared\.yaml \["example-shared-token"\]: sops edit secrets\/shared\.yaml/,
  );
  assertMatch(first.stdout, /secrets\/dev-vm\.yaml \["example-secret"\]: sops edit/);
  // Run twice: nothing changes, and it says so.
  const snapshot = await snapshotTree(repo.dir);
  const second = await runTask(repo.dir, "init", initArgs(owner), { bin, env: ownerEnv(owner) });
  assertEquals(second.code, 0, second.stderr);
  assertMatch(second.stdout, /^Nothing to do: the repository is yours already$/m);
  assertEquals(await snapshotTree(repo.dir), snapshot);
});

Deno.test("init --keep-examples --keep-example-user keeps nas1, desk1 and sam, still locking every committed key out", async () => {
  await using repo = await createFreshClone();
  await using owner = await createOwner(repo);
  await using bin = await createProgramsBin(INIT_PROGRAMS);
  const args = initArgs(owner, ["--keep-examples", "--keep-example-user", "--json"]);
  const run = await runTask(repo.dir, "init", args, { bin, env: ownerEnv(owner) });
  assertEquals(run.code, 0, run.stderr);
  const result = JSON.parse(run.stdout);
  assertEquals(result.nothingToDo, false);
  assert(
    result.publicValues.some((v: { path: string; command: string }) =>
      v.path === "secrets/desk1.yaml" &&
      v.command === "deno task secrets password admin --host desk1"
    ),
    run.stdout,
  );
  for (const kept of ["configurations/nas1/default.nix", "secrets/users/sam/desk1.yaml"]) {
    assert(await exists(repo.path(kept)), `${kept} is kept`);
  }
  await assertMadeYours(repo, owner, bin);
});

Deno.test("init --dry-run prints the executor's steps and changes no file", async () => {
  await using repo = await createFreshClone();
  await using owner = await createOwner(repo);
  await using bin = await createProgramsBin(INIT_PROGRAMS);
  const before = await snapshotTree(repo.dir);
  // No admin key yet: the dry run says it would make one, and makes none.
  const env = ownerEnv(owner, `${owner.home}/new/keys.txt`);
  const run = await runTask(
    repo.dir,
    "init",
    ["--dry-run", "--name", "me", "--ssh-key-file", owner.sshPub],
    { bin, env },
  );
  assertEquals(run.code, 0, run.stderr);
  assertMatch(run.stderr, /would run: age-keygen -o /);
  assertMatch(run.stderr, /would run: sops rotate -i secrets\/shared\.yaml && sops updatekeys/);
  assertMatch(run.stderr, /would run: rm configurations\/dev-vm\/EXAMPLE-admin-age-key\.txt/);
  assertEquals(await snapshotTree(repo.dir), before);
  assertEquals(await repo.git("status", "--porcelain", "--ignored"), "");
  assert(!await exists(`${owner.home}/new`), "no key made");
});

Deno.test("init refuses a missing, unreadable or non-age admin key in one line and changes nothing", async () => {
  await using repo = await createFreshClone();
  await using owner = await createOwner(repo);
  await using bin = await createProgramsBin(INIT_PROGRAMS);
  await Deno.writeTextFile(`${owner.home}/not-a-key.txt`, "hello\n");
  await Deno.mkdir(`${owner.home}/a-folder`);
  const before = await snapshotTree(repo.dir);
  const cases: [string, RegExp][] = [
    [`${owner.home}/missing.txt`, /^error: Cannot read admin key .*missing\.txt: no such file/],
    [`${owner.home}/a-folder`, /^error: Cannot (read|use) admin key .*a-folder: /],
    [
      `${owner.home}/not-a-key.txt`,
      /^error: Cannot use admin key .*not-a-key\.txt: not an age key/,
    ],
    [
      repo.path(EXAMPLE_ADMIN_KEY_FILE),
      /^error: Cannot make age1\S+ your admin key: it is the committed example key/,
    ],
  ];
  for (const [file, message] of cases) {
    const run = await runTask(
      repo.dir,
      "init",
      ["--name", "me", "--admin-key-file", file, "--ssh-key-file", owner.sshPub, "--yes"],
      { bin, env: ownerEnv(owner) },
    );
    assert(run.code !== 0, `${file}: refused`);
    assertEquals(run.stderr.trim().split("\n").length, 1, run.stderr);
    assertMatch(run.stderr.trim(), message);
    assertEquals(await snapshotTree(repo.dir), before, `${file}: nothing changed`);
    assertEquals(await repo.git("status", "--porcelain", "--ignored"), "");
  }
  // An SSH key file that is the private key, not the .pub.
  const ssh = await runTask(
    repo.dir,
    "init",
    ["--name", "me", "--admin-key-file", owner.adminKey, "--ssh-key-file", `${owner.home}/id`],
    { bin, env: ownerEnv(owner) },
  );
  assert(ssh.code !== 0);
  assertMatch(
    ssh.stderr.trim(),
    /^error: Cannot use SSH key .*\/id: not one OpenSSH public key line/,
  );
  assertEquals(await snapshotTree(repo.dir), before);
});
