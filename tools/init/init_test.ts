// `deno task init` on a fresh clone of this repository, as a new owner runs it: afterwards no
// private key the repository's history ever held decrypts any file under secrets/, the new admin
// key decrypts all, the checks pass, and a second run changes nothing. --dry-run and bad input
// change nothing.
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { createProgramsBin, runTask } from "../testing/task.ts";
import { snapshotTree } from "../testing/tree_snapshot.ts";
import { runProgram } from "../testing/run.ts";
import {
  assertMadeYours,
  createFreshClone,
  createOwner,
  dataKey,
  decrypt,
  EXAMPLE_ADMIN_KEY_FILE,
  exists,
  INIT_PROGRAMS,
  initArgs,
  ownerEnv,
  secretFiles,
} from "./_test_support.ts";

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
  // No key given and none at sops's place: with the example admin gone, none is made.
  const missing = `${owner.home}/none/keys.txt`;
  const keyless = await runTask(repo.dir, "init", ["--name", "me", "--yes"], {
    bin,
    env: ownerEnv(owner, missing),
  });
  assertEquals(keyless.code, 1, keyless.stdout);
  assertMatch(
    keyless.stderr.trim(),
    /^error: Cannot find your admin key: .*none\/keys\.txt does not exist/,
  );
  assert(!await exists(missing), "no key made");
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

Deno.test("init --keep-examples keeps nas1 and desk1 and takes sam off desk1 (its Nix too), still locking every committed key out", async () => {
  await using repo = await createFreshClone();
  await using owner = await createOwner(repo);
  await using bin = await createProgramsBin(INIT_PROGRAMS);
  const args = initArgs(owner, ["--keep-examples"]);
  const run = await runTask(repo.dir, "init", args, { bin, env: ownerEnv(owner) });
  assertEquals(run.code, 0, run.stderr);
  assert(!await exists(repo.path("secrets/users/sam")), "sam's files are removed");
  const desk1 = await Deno.readTextFile(repo.path("configurations/desk1/default.nix"));
  assert(!/\bsam\b/.test(desk1), desk1);
  assert(!desk1.includes("\n\n\n"), "no double blank line left");
  const parsed = await runProgram([
    "nix-instantiate",
    "--parse",
    "configurations/desk1/default.nix",
  ], {
    cwd: repo.dir,
  });
  assertEquals(parsed.code, 0, parsed.stderr);
  assert(!(await Deno.readTextFile(repo.path(".sops.yaml"))).includes("user_sam"));
  assertMatch(
    run.stdout,
    /secrets\/desk1\.yaml \["passwords"\]\["sam"\]: deno task secrets password sam --remove --host desk1/,
  );
  await assertMadeYours(repo, owner, bin);
});

Deno.test("init --dev-vm remove takes dev-vm off every secrets file; no committed key decrypts any", async () => {
  await using repo = await createFreshClone();
  await using owner = await createOwner(repo);
  await using bin = await createProgramsBin(INIT_PROGRAMS);
  const args = initArgs(owner, ["--dev-vm", "remove"]);
  const run = await runTask(repo.dir, "init", args, { bin, env: ownerEnv(owner) });
  assertEquals(run.code, 0, run.stderr);
  assertMatch(run.stdout, /note: dev-vm reads no secrets now/);
  assert(!await exists(repo.path("configurations/dev-vm/ssh_host_ed25519_key.pub")));
  assert(!await exists(repo.path(".data")), "no key made for dev-vm");
  const sopsYaml = await Deno.readTextFile(repo.path(".sops.yaml"));
  assert(!sopsYaml.includes("host_dev-vm"), sopsYaml);
  for (const path of await secretFiles(repo)) {
    assertEquals((await decrypt(repo, path, owner.adminKey)).code, 0, path);
    assert((await decrypt(repo, path, owner.historyKeys)).code !== 0, `${path}: locked`);
  }
  for (const [task, checkArgs] of [["rekey", ["--check"]], ["index", ["--check"]]] as const) {
    const check = await runTask(repo.dir, task, checkArgs, { bin });
    assertEquals(check.code, 0, `${task}: ${check.stdout}${check.stderr}`);
  }
  const again = await runTask(repo.dir, "init", args, { bin, env: ownerEnv(owner) });
  assertMatch(again.stdout, /^Nothing to do: the repository is yours already$/m);
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

Deno.test("init on a terminal shows the changes and asks first: declined, it makes no key and changes nothing", async () => {
  await using repo = await createFreshClone();
  await using owner = await createOwner(repo);
  await using bin = await createProgramsBin([...INIT_PROGRAMS, "script"]);
  const before = await snapshotTree(repo.dir);
  const keyFile = `${owner.home}/new/keys.txt`;
  // util-linux's script gives init a terminal; the answers: remove the examples, then no.
  const run = await runProgram(
    [
      `${bin.dir}/script`,
      "-qec",
      `deno task -q init --name me --ssh-key-file ${owner.sshPub}`,
      "/dev/null",
    ],
    {
      cwd: repo.dir,
      env: { ...ownerEnv(owner, keyFile), PATH: bin.dir, SHELL: "/bin/sh", NO_COLOR: "1" },
      stdin: "y\nn\n",
    },
  );
  assert(run.code !== 0, run.stdout);
  assertMatch(run.stdout, /Remove the example hosts desk1, nas1\?/);
  assertMatch(run.stdout, /admin me added \(a new age key, made at .*keys\.txt when you confirm\)/);
  assertMatch(run.stdout, /error: Cannot make the repository yours: not confirmed/);
  assertEquals(await snapshotTree(repo.dir), before);
  assertEquals(await repo.git("status", "--porcelain", "--ignored"), "");
  assert(!await exists(keyFile), "no admin key made");
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
