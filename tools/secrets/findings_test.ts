// Regression tests for the defects found by attacking rekey and secrets (issue 9), numbered as
// the findings. Each runs `deno task …` as users do, with real sops, age and ssh-keygen.
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/assert.ts";
import {
  createFixture,
  type Fixture,
  makeAgeKey,
  makeHostKey,
  run,
  SECRETS_PROGRAMS,
} from "./_test_support.ts";
import { acquireLock, LOCK_FILE } from "../lib/sops/lock.ts";
import { createTempRepo } from "../testing/temp_repo.ts";
import { createProgramsBin, runTask } from "../testing/task.ts";

function addAdminByHand(text: string, name: string, recipient: string): string {
  return text.replace("  # Hosts:", `  - &admin_${name} ${recipient}\n  # Hosts:`);
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** A fixture whose files all need work: a hand-added admin in every generated rule. */
async function withNewAdmin(f: Fixture) {
  const bob = await makeAgeKey(f.keysDir, "bob");
  const text = await Deno.readTextFile(f.repo.path(".sops.yaml"));
  await f.repo.write({
    ".sops.yaml": addAdminByHand(text, "bob", bob.recipient)
      .replace("          - *admin_alice\n", "          - *admin_alice\n          - *admin_bob\n"),
  });
  return bob;
}

/** `secrets host add <name> --key-file <pub> -y`, as a user types it. */
function hostAddArgs(name: string, publicKeyFile: string): string[] {
  return ["host", "add", name, "--key-file", publicKeyFile, "-y"];
}

Deno.test("01 16: deno task rekey --repo works from another folder, with sops outside the repository", async () => {
  await using f = await createFixture(["web1"]);
  await using other = await createTempRepo({ "README.md": "elsewhere\n" });
  await withNewAdmin(f);
  await using bin = await createProgramsBin(SECRETS_PROGRAMS);
  const env = { SOPS_AGE_KEY_FILE: f.admin.file };
  const r = await runTask(f.repo.dir, "rekey", ["--repo", f.repo.dir, "--check"], { env, bin });
  assertEquals(r.code, 1, r.stderr);
  assertStringIncludes(r.stdout, "secrets/web1.yaml: recipients differ");
  const access = await runTask(f.repo.dir, "secrets", ["access", "--repo", f.repo.dir], {
    env,
    bin,
  });
  assertEquals(access.code, 0, access.stderr);
  // From another folder, with the tool of the repository given by path.
  const fromOther = await run(
    ["deno", "task", "-q", "--config", f.repo.path("deno.json"), "rekey", "--repo", f.repo.dir],
    { cwd: other.dir, env: { SOPS_AGE_KEY_FILE: f.admin.file } },
  );
  assertEquals(fromOther.code, 0, `${fromOther.stderr}|${fromOther.stdout}`);
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
});

Deno.test("02: a file edited after a kill is never overwritten; the run stops naming it; --abort keeps it", async () => {
  await using f = await createFixture(["web1", "db1"]);
  await withNewAdmin(f);
  // Killed after the first file was renamed into place (events: journal, .sops.yaml x2, file x2).
  const killed = await f.killAt(5, ["rekey", "--parallel", "1"]);
  assertEquals(killed.code, 137, killed.stderr);
  // The operator now edits a file the run had not reached, and .sops.yaml.
  const edit = await f.sops(["set", "secrets/web1.yaml", '["token"]', '"EDITED-AFTER-KILL"']);
  assertEquals(edit.code, 0, edit.stderr);
  const config = `${await Deno.readTextFile(f.repo.path(".sops.yaml"))}# edited after the kill\n`;
  await f.repo.write({ ".sops.yaml": config });
  const before = await f.snapshot();
  const r = await f.task("rekey", []);
  assertEquals(r.code, 1, r.stderr);
  assertMatch(
    r.stderr,
    /error: Cannot finish the `rekey` run killed at .*: .*secrets\/web1\.yaml.* changed since/,
  );
  assertStringIncludes(r.stderr, "run `deno task rekey --abort`");
  assertEquals(
    r.stderr.trim().split("\n").filter((l) => !l.startsWith("note:")).length,
    1,
    r.stderr,
  );
  assertEquals(await f.snapshot(), before, "nothing touched");
  const aborted = await f.task("rekey", ["--abort"]);
  assertEquals(aborted.code, 0, aborted.stderr);
  assertStringIncludes(aborted.stdout, "kept .sops.yaml, secrets/web1.yaml (changed since)");
  assertStringIncludes(
    (await f.decryptAs("secrets/web1.yaml", f.admin.file)).stdout,
    "EDITED-AFTER-KILL",
  );
  assertEquals(await Deno.readTextFile(f.repo.path(".sops.yaml")), config);
  assert(!await exists(f.repo.path(".rekey-journal")));
  const again = await f.task("rekey", []);
  assertEquals(again.code, 0, again.stderr);
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
});

Deno.test("03: a second changing run exits 1 at once naming the first; read-only commands say a run is on", async () => {
  await using f = await createFixture(["web1"]);
  await withNewAdmin(f);
  const before = await f.snapshot();
  {
    await using _held = await acquireLock(f.repo.dir, "rekey (held by the test)");
    const second = await f.task("rekey", []);
    assertEquals(second.code, 1);
    assertStringIncludes(
      second.stderr,
      `another rekey (pid ${Deno.pid}, \`rekey (held by the test)\``,
    );
    const admin = await f.task("secrets", ["admin", "remove", "alice"]);
    assertStringIncludes(admin.stderr, `another rekey (pid ${Deno.pid}`);
    assertEquals(await f.snapshot(), before);
    const check = await f.task("rekey", ["--check"]);
    assertStringIncludes(check.stderr, `note: a rekey (pid ${Deno.pid}`, JSON.stringify(check));
    const access = await f.task("secrets", ["access"]);
    assertEquals(access.code, 0, access.stderr);
    assertStringIncludes(access.stderr, `note: a rekey (pid ${Deno.pid}`);
  }
  // A lock left by a process that died is stale: taken over, and said so.
  await f.repo.write({
    [LOCK_FILE]: `${JSON.stringify({ pid: 999999, startedAt: "then", command: "rekey" })}\n`,
  });
  const r = await f.task("rekey", []);
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stderr, "took over the lock of pid 999999");
  assert(!await exists(f.repo.path(LOCK_FILE)), "a run deletes its lock file as it ends");
});

Deno.test("03: two rekeys started together: one runs, the other exits 1; every file decrypts", async () => {
  await using f = await createFixture(["web1", "db1"]);
  await withNewAdmin(f);
  const [a, b] = await Promise.all([f.task("rekey", []), f.task("rekey", [])]);
  const codes = [a.code, b.code].sort();
  // Either both ran one after the other (the second found nothing to do) or one was refused.
  assert(codes[1] === 0 || codes[1] === 1, `${a.stderr} ${b.stderr}`);
  for (const r of [a, b]) {
    if (r.code !== 0) assertStringIncludes(r.stderr, "another rekey (pid ");
  }
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
  assert(!await exists(f.repo.path(".rekey-journal")));
});

Deno.test("04: a hand-written pgp-only rule that would leave a file with no admin is refused", async () => {
  await using f = await createFixture(["web1"]);
  const text = await Deno.readTextFile(f.repo.path(".sops.yaml"));
  await f.repo.write({
    ".sops.yaml": text.replace(
      "creation_rules:\n",
      "creation_rules:\n  - path_regex: secrets/web1\\.yaml$\n    pgp: 85D77543B3D624B63CEA9E6DBC17301B491B3F21\n",
    ),
  });
  const before = await f.snapshot();
  const r = await f.task("rekey", []);
  assertEquals(r.code, 1);
  assertStringIncludes(
    r.stderr,
    "secrets/web1.yaml: your rule 1 (line 8) gives it no admin age key (only pgp/kms keys)",
  );
  assertEquals(await f.snapshot(), before);
  const check = await f.task("rekey", ["--check"]);
  assertStringIncludes(check.stdout, "gives it no admin age key");
});

Deno.test("05: an anchor defined twice is refused, naming both lines", async () => {
  await using f = await createFixture(["web1"]);
  const other = await makeAgeKey(f.keysDir, "other");
  const text = await Deno.readTextFile(f.repo.path(".sops.yaml"));
  await f.repo.write({ ".sops.yaml": addAdminByHand(text, "alice", other.recipient) });
  const before = await f.snapshot();
  for (const args of [[], ["--check"]]) {
    const r = await f.task("rekey", args);
    assertEquals(r.code, 1);
    assertMatch(
      r.stderr,
      /anchor &admin_alice is defined twice \(line 4, column \d+ and line 5, column \d+\)/,
    );
  }
  assertEquals(await f.snapshot(), before);
});

Deno.test("20: a key already in use under another name is refused (admin add, host replace-key, by hand)", async () => {
  await using f = await createFixture(["web1", "db1"]);
  const before = await f.snapshot();
  const copy = await f.task("secrets", ["admin", "add", "copy", f.admin.recipient]);
  assertEquals(copy.code, 1);
  assertStringIncludes(copy.stderr, "that key is already &admin_alice (line 4)");
  const wrong = await f.task("secrets", [
    "host",
    "replace-key",
    "db1",
    "--key-file",
    f.repo.path("configurations/web1/ssh_host_ed25519_key.pub"),
    "-y",
  ]);
  assertEquals(wrong.code, 1);
  assertStringIncludes(wrong.stderr, "it is already &host_web1");
  assertEquals(await f.snapshot(), before);
  const text = await Deno.readTextFile(f.repo.path(".sops.yaml"));
  await f.repo.write({ ".sops.yaml": addAdminByHand(text, "again", f.admin.recipient) });
  const byHand = await f.task("rekey", []);
  assertEquals(byHand.code, 1);
  assertStringIncludes(
    byHand.stderr,
    "&admin_alice (line 4) and &admin_again (line 5) are the same key",
  );
});

Deno.test("06: a read-only secrets file is replaced by rename when run as an unprivileged user", async () => {
  await using f = await createFixture(["web1"]);
  const user = `rk${crypto.randomUUID().slice(0, 6)}`;
  const added = await run(["useradd", "--no-create-home", "--shell", "/bin/false", user]);
  assertEquals(added.code, 0, added.stderr);
  const denoDir = await Deno.makeTempDir({ prefix: "deno-dir-" });
  try {
    const cache = (await run(["deno", "info", "--json"])).stdout;
    const from = (JSON.parse(cache) as { denoDir: string }).denoDir;
    assertEquals((await run(["cp", "-a", `${from}/.`, denoDir])).code, 0);
    const bob = await withNewAdmin(f);
    const keyFile = f.repo.path("operator-key.txt");
    await Deno.copyFile(f.admin.file, keyFile);
    await Deno.chmod(f.repo.path("secrets/web1.yaml"), 0o444);
    for (const path of [f.repo.dir, denoDir]) {
      assertEquals((await run(["chown", "-R", `${user}:${user}`, path])).code, 0);
    }
    const bin = await Deno.makeTempDir({ prefix: "bin-" });
    try {
      for (const p of ["sops", "age", "age-keygen", "ssh-keygen"]) {
        const found = (await run(["sh", "-c", `command -v ${p}`])).stdout.trim();
        await Deno.symlink(await Deno.realPath(found), `${bin}/${p}`);
      }
      await Deno.symlink(Deno.execPath(), `${bin}/deno`);
      await Deno.chmod(bin, 0o755);
      const r = await run(
        [
          "runuser",
          "-u",
          user,
          "--",
          "env",
          `PATH=${bin}`,
          `DENO_DIR=${denoDir}`,
          `HOME=${f.repo.dir}`,
          "NO_COLOR=1",
          `SOPS_AGE_KEY_FILE=${keyFile}`,
          "deno",
          "task",
          "-q",
          "rekey",
        ],
        { cwd: f.repo.dir },
      );
      assertEquals(r.code, 0, r.stderr);
      assertStringIncludes(r.stdout, "secrets/web1.yaml: updated");
      assertEquals((await Deno.stat(f.repo.path("secrets/web1.yaml"))).mode! & 0o777, 0o444);
      assertEquals((await f.decryptAs("secrets/web1.yaml", bob.file)).code, 0);
    } finally {
      await Deno.remove(bin, { recursive: true });
    }
  } finally {
    await run(["userdel", user]);
    await Deno.remove(denoDir, { recursive: true });
  }
});

Deno.test("07: a host folder whose name breaks the host name rule is named in the error", async () => {
  await using f = await createFixture(["web1"]);
  const key = await makeHostKey(f.keysDir, "x");
  await f.repo.write({ "configurations/web.example.com/ssh_host_ed25519_key.pub": key.publicLine });
  const before = await f.snapshot();
  for (const args of [[], ["--check"]]) {
    const r = await f.task("rekey", args);
    assertEquals(r.code, 1);
    assertStringIncludes(
      r.stderr,
      `error: Cannot use configurations/web.example.com/: "web.example.com" is not a valid host name`,
    );
  }
  assertEquals(await f.snapshot(), before);
});

Deno.test("08: sops INI, dotenv, JSON and binary files are read as encrypted and re-keyed", async () => {
  await using f = await createFixture(["web1"]);
  const inputs: Record<string, [string, string]> = {
    "secrets/app.ini": ["ini", "[db]\npassword = x\n"],
    "secrets/app.env": ["dotenv", "A=x\n"],
    "secrets/app.json": ["json", '{"a": "x"}\n'],
    "secrets/app.bin": ["binary", "raw"],
  };
  for (const [path, [, plain]] of Object.entries(inputs)) {
    await f.encrypt(path, plain, [f.admin.recipient]); // the format follows the name, as in sops
  }
  const bob = await withNewAdmin(f);
  const text = await Deno.readTextFile(f.repo.path(".sops.yaml"));
  await f.repo.write({
    ".sops.yaml": text.replace(
      "creation_rules:\n",
      "creation_rules:\n  - path_regex: ^secrets/app\\.\n    key_groups:\n      - age:\n          - *admin_alice\n          - *admin_bob\n",
    ),
  });
  const check0 = await f.task("rekey", ["--check"]);
  assert(!check0.stdout.includes("plaintext"), check0.stdout);
  const r = await f.task("rekey", []);
  assertEquals(r.code, 0, r.stderr);
  for (const path of Object.keys(inputs)) {
    assertEquals((await f.decryptAs(path, bob.file)).code, 0, `${path} re-keyed for bob`);
  }
  await f.repo.write({ "secrets/plain.ini": "[db]\npassword = x\n" });
  assertStringIncludes(
    (await f.task("rekey", ["--check"])).stdout,
    "secrets/plain.ini: no sops metadata",
  );
});

Deno.test("09: a failing decrypt passes on sops's own cause", async () => {
  await using f = await createFixture(["web1"]);
  await withNewAdmin(f);
  const original = await Deno.readTextFile(f.repo.path("secrets/web1.yaml"));
  const corrupt = original.replace(
    /(mac: ENC\[AES256_GCM,data:)(.)/,
    (_, a, c) => `${a}${c === "A" ? "B" : "A"}`,
  );
  await f.repo.write({ "secrets/web1.yaml": corrupt });
  const mac = await f.task("rekey", []);
  assertEquals(mac.code, 1);
  assertStringIncludes(mac.stderr, "secrets/web1.yaml: sops says: Cannot decrypt MAC");
  await f.repo.write({ "secrets/web1.yaml": original });
  const missing = await f.task("rekey", [], { identityFile: "/nonexistent/keys.txt" });
  assertEquals(missing.code, 1);
  assertStringIncludes(
    missing.stderr,
    "failed to open SOPS_AGE_KEY_FILE file: open /nonexistent/keys.txt: no such file",
  );
  const stranger = await makeAgeKey(f.keysDir, "stranger");
  const wrong = await f.task("rekey", [], { identityFile: stranger.file });
  assertStringIncludes(
    wrong.stderr,
    `your identity (${stranger.file}) is not one of its recipients`,
  );
});

Deno.test("10 22: symlinks under secrets/ are refused with one line; dangling and folder links named", async () => {
  await using f = await createFixture(["web1"]);
  const outside = `${f.keysDir}/ext.yaml`;
  await Deno.copyFile(f.repo.path("secrets/shared.yaml"), outside);
  const cases: [string, string, string][] = [
    ["secrets/ext.yaml", outside, `secrets/ext.yaml is a symbolic link (to ${outside})`],
    [
      "secrets/gone.yaml",
      "/nonexistent/x.yaml",
      "secrets/gone.yaml is a dangling symbolic link (to /nonexistent/x.yaml)",
    ],
    ["secrets/etc", "/etc", "secrets/etc is a symbolic link to a folder (/etc)"],
  ];
  for (const [link, target, message] of cases) {
    await Deno.symlink(target, f.repo.path(link));
    for (
      const args of [["rekey"], ["rekey", "--check"], ["access"], ["admin", "remove", "alice"]]
    ) {
      const r = await f.task("secrets", args);
      assertEquals(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
      assertStringIncludes(r.stderr, message);
      assertEquals(r.stderr.trim().split("\n").length, 1);
    }
    assert((await Deno.lstat(f.repo.path(link))).isSymlink, "the link is left alone");
    await Deno.remove(f.repo.path(link));
  }
});

Deno.test("11: a new file no rule covers is admin-only; grant and revoke name hosts explicitly", async () => {
  await using f = await createFixture(["web1", "db1"]);
  await f.encrypt("secrets/backup.yaml", "k: v\n", [
    f.admin.recipient,
    f.hosts.get("web1")!.recipient,
  ]);
  const r = await f.task("rekey", []);
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stdout, "secrets/backup.yaml: updated -1");
  assertEquals(await f.recipients("secrets/backup.yaml"), [f.admin.recipient]);
  const granted = await f.task("secrets", ["grant", "secrets/backup.yaml", "db1"]);
  assertEquals(granted.code, 0, granted.stderr);
  assertEquals(
    (await f.decryptAs("secrets/backup.yaml", f.hosts.get("db1")!.identityFile)).code,
    0,
  );
  const revoked = await f.task("secrets", ["revoke", "secrets/backup.yaml", "db1"]);
  assertEquals(revoked.code, 0, revoked.stderr);
  assertStringIncludes(revoked.stdout, "rotated");
  assert((await f.decryptAs("secrets/backup.yaml", f.hosts.get("db1")!.identityFile)).code !== 0);
  const hand = await f.task("secrets", ["grant", "secrets/notes/alice.yaml", "db1"]);
  assertEquals(hand.code, 1);
  assertStringIncludes(hand.stderr, "it is governed by your rule 1 (line");
  const unknown = await f.task("secrets", ["grant", "secrets/backup.yaml", "nosuch"]);
  assertStringIncludes(unknown.stderr, `"nosuch": no such host (hosts: db1, web1)`);
});

Deno.test("11: in a one-host fleet, a second host gets only its own file", async () => {
  await using f = await createFixture(["web1"]);
  const app1 = await makeHostKey(f.keysDir, "app1");
  const r = await f.task("secrets", hostAddArgs("app1", `${app1.privatePath}.pub`));
  assertEquals(r.code, 0, r.stderr);
  assert((await f.decryptAs("secrets/web1.yaml", app1.identityFile)).code !== 0);
  assert((await f.decryptAs("secrets/shared.yaml", app1.identityFile)).code !== 0);
  assertEquals((await f.decryptAs("secrets/app1.yaml", app1.identityFile)).code, 0);
});

Deno.test("12: path_regex is read as RE2: \\z, (?i), (?P<n>) rules are honoured, not skipped", async () => {
  for (
    const regex of [
      "^secrets/extra\\.yaml\\z",
      "(?i)^SECRETS/extra\\.yaml$",
      "^secrets/(?P<n>extra)\\.yaml$",
    ]
  ) {
    await using f = await createFixture(["web1"]);
    await f.encrypt("secrets/extra.yaml", "k: v\n", [f.admin.recipient]);
    const text = await Deno.readTextFile(f.repo.path(".sops.yaml"));
    await f.repo.write({
      ".sops.yaml":
        `${text}  - path_regex: ${regex}\n    key_groups:\n      - age:\n          - *admin_alice\n`,
    });
    const check = await f.task("rekey", ["--check"]);
    assertEquals(check.code, 0, `${regex}: ${check.stdout}${check.stderr}`);
    const r = await f.task("rekey", []);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(await f.recipients("secrets/extra.yaml"), [f.admin.recipient], regex);
  }
  await using f = await createFixture(["web1"]);
  const text = await Deno.readTextFile(f.repo.path(".sops.yaml"));
  await f.repo.write({
    ".sops.yaml": `${text}  - path_regex: ^(a)\\1$\n    age: ${f.admin.recipient}\n`,
  });
  const r = await f.task("rekey", ["--check"]);
  assertEquals(r.code, 1);
  assertStringIncludes(r.stderr, `path_regex "^(a)\\1$" uses a backreference (\\1)`);
});

async function foreignRepo(f: Fixture) {
  const bar = await makeAgeKey(f.keysDir, "bar");
  await f.repo.write({
    ".sops.yaml": `keys:\n  - &admin_foo ${f.admin.recipient}\n  - &server_bar ${bar.recipient}\n` +
      `creation_rules:\n  - path_regex: secrets/[^/]+\\.(yaml|json|env|ini)$\n    key_groups:\n` +
      `      - age:\n          - *admin_foo\n          - *server_bar\n`,
    "configurations/web1/ssh_host_ed25519_key.pub": null,
    "secrets/web1.yaml": null,
    "secrets/shared.yaml": null,
    "secrets/notes/alice.yaml": null,
  });
  await f.encrypt("secrets/app.yaml", "db: FOREIGN\n", [f.admin.recipient, bar.recipient]);
  return bar;
}

Deno.test("13: where a hand-written rule decides, admin add and host add say so and change nothing", async () => {
  await using f = await createFixture(["web1"]);
  await foreignRepo(f);
  const before = await f.snapshot();
  const neu = await makeAgeKey(f.keysDir, "new");
  const admin = await f.task("secrets", ["admin", "add", "new", neu.recipient]);
  assertEquals(admin.code, 1);
  assertStringIncludes(
    admin.stderr,
    "secrets/app.yaml is governed by your rule 1 (line 5); admin new was not added — add *admin_new there or remove the rule",
  );
  const web1 = await makeHostKey(f.keysDir, "web1");
  const host = await f.task("secrets", hostAddArgs("web1", `${web1.privatePath}.pub`));
  assertEquals(host.code, 1);
  assertStringIncludes(
    host.stderr,
    "secrets/web1.yaml is governed by your rule 1 (line 5); web1 was not added — add *host_web1 there or remove the rule",
  );
  assertEquals(await f.snapshot(), before);
  assertEquals((await f.task("rekey", ["--check"])).code, 0, "the foreign layout is in step");
});

Deno.test("13: --check reports a declared host that cannot read its own file", async () => {
  await using f = await createFixture(["web1"]);
  const text = await Deno.readTextFile(f.repo.path(".sops.yaml"));
  await f.repo.write({
    ".sops.yaml": text.replace(
      "creation_rules:\n",
      "creation_rules:\n  - path_regex: secrets/web1\\.yaml$\n    key_groups:\n      - age:\n          - *admin_alice\n",
    ),
  });
  const r = await f.task("rekey", ["--check"]);
  assertEquals(r.code, 1);
  assertStringIncludes(
    r.stdout,
    "secrets/web1.yaml: host web1 cannot read its own file: your rule 1 (line 8) has no *host_web1",
  );
});

Deno.test("14: host add is all-or-nothing: a wrong identity, a weak key or a failing step leave the tree as it was", async () => {
  await using f = await createFixture(["web1"]);
  const bob = await withNewAdmin(f); // every file needs work: the operator must decrypt them
  const before = await f.snapshot();
  const app1 = await makeHostKey(f.keysDir, "app1");
  const stranger = await makeAgeKey(f.keysDir, "stranger");
  const hostAdd = ["host", "add", "app1", "--key-file", `${app1.privatePath}.pub`, "-y"];
  const wrong = await f.task("secrets", hostAdd, { identityFile: stranger.file });
  assertEquals(wrong.code, 1);
  assertStringIncludes(wrong.stderr, "is not one of its recipients; nothing was changed");
  assertEquals(await f.snapshot(), before);
  const zero = `${f.keysDir}/zero.pub`;
  const blob = new Uint8Array([
    ...[0, 0, 0, 11, ...new TextEncoder().encode("ssh-ed25519")],
    ...[0, 0, 0, 32, ...new Uint8Array(32)],
  ]);
  await Deno.writeTextFile(zero, `ssh-ed25519 ${btoa(String.fromCharCode(...blob))} zero\n`);
  const weak = await f.task("secrets", ["host", "add", "web2", "--key-file", zero, "-y"]);
  assertEquals(weak.code, 1);
  assertStringIncludes(weak.stderr, "a small-order (weak) key");
  assertEquals(await f.snapshot(), before);
  // A step that fails after the host key and .sops.yaml were written: all undone, no new folder.
  const chattr = await run(["chattr", "+i", f.repo.path("secrets/web1.yaml")]);
  assertEquals(chattr.code, 0, chattr.stderr);
  const failed = await f.task("secrets", [...hostAdd, "--parallel", "1"]);
  await run(["chattr", "-i", f.repo.path("secrets/web1.yaml")]);
  assertEquals(failed.code, 1);
  assertStringIncludes(failed.stderr, "Cannot replace secrets/web1.yaml");
  assertEquals(await f.snapshot(), before);
  const retried = await f.task("secrets", hostAdd);
  assertEquals(retried.code, 0, retried.stderr);
  assertEquals((await f.decryptAs("secrets/app1.yaml", app1.identityFile)).code, 0);
  assertEquals((await f.decryptAs("secrets/app1.yaml", bob.file)).code, 0);
});

Deno.test("15 22: --abort with no journal says so; access without .sops.yaml says that", async () => {
  await using f = await createFixture(["web1"]);
  const r = await f.task("rekey", ["--abort"]);
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stdout, "No unfinished run to abort");
  assert(!r.stdout.includes("in step"));
  await f.repo.write({ ".sops.yaml": null });
  const access = await f.task("secrets", ["access"]);
  assertEquals(access.code, 1);
  assertStringIncludes(access.stderr, "Cannot show access: no .sops.yaml in");
});

Deno.test("17: a host named like an existing non-host secrets file is refused", async () => {
  await using f = await createFixture(["web1"]);
  const before = await f.snapshot();
  const key = await makeHostKey(f.keysDir, "shared");
  const r = await f.task("secrets", hostAddArgs("shared", `${key.privatePath}.pub`));
  assertEquals(r.code, 1);
  assertStringIncludes(
    r.stderr,
    `Cannot add host "shared": secrets/shared.yaml exists (kept when a host "shared" was removed, or another file of that name); pass --restore to give the new key that file and nothing else, or pick another host name`,
  );
  assertEquals(await f.snapshot(), before);
});

Deno.test("18: no output of any command, --verbose included, holds a decrypted value", async () => {
  await using f = await createFixture(["web1", "db1"]);
  const marker = `LEAK${crypto.randomUUID().replaceAll("-", "")}`;
  await f.encrypt("secrets/shared.yaml", `wifi: ${marker}\n`, [
    f.admin.recipient,
    f.hosts.get("web1")!.recipient,
    f.hosts.get("db1")!.recipient,
  ]);
  await f.encrypt("secrets/backup.yaml", `k: ${marker}\n`, [f.admin.recipient]);
  const bob = await withNewAdmin(f);
  const app1 = await makeHostKey(f.keysDir, "app1");
  const stranger = await makeAgeKey(f.keysDir, "stranger");
  const runs = [
    await f.task("rekey", ["--verbose", "--dry-run"]),
    await f.task("rekey", ["--verbose", "--check"]),
    await f.task("rekey", ["--verbose"], { identityFile: stranger.file }),
    await f.task("rekey", ["--verbose", "--json"]),
    await f.task("secrets", ["--verbose", "access", "--json"]),
    await f.task("secrets", [
      "--verbose",
      ...hostAddArgs("app1", `${app1.privatePath}.pub`),
    ]),
    await f.task("secrets", ["--verbose", "grant", "secrets/backup.yaml", "app1"]),
    await f.task("secrets", ["--verbose", "revoke", "secrets/backup.yaml", "app1"]),
    await f.task("secrets", ["--verbose", "admin", "remove", "bob"]),
  ];
  void bob;
  assert(runs.some((r) => r.stderr.includes("$ sops decrypt")), "verbose shows the commands");
  for (const r of runs) {
    assert(
      !`${r.stdout}${r.stderr}`.includes(marker),
      `no decrypted value in: ${r.stdout}${r.stderr}`,
    );
  }
});

Deno.test("19: access shows every recipient: any anchor name, unknown keys, pgp", async () => {
  await using f = await createFixture(["web1"]);
  const bar = await foreignRepo(f);
  const stranger = await makeAgeKey(f.keysDir, "stranger");
  const rotated = await f.sops([
    "rotate",
    "-i",
    "--add-age",
    stranger.recipient,
    "secrets/app.yaml",
  ]);
  assertEquals(rotated.code, 0, rotated.stderr);
  const r = await f.task("secrets", ["access"]);
  assertEquals(r.code, 0, r.stderr);
  const lines = r.stdout.trimEnd().split("\n").map((l) => l.replace(/\s+/g, " "));
  assertEquals(lines, [
    `file admin_foo server_bar unknown ${stranger.recipient}`,
    "secrets/app.yaml yes yes yes",
  ]);
  void bar;
  const json = JSON.parse((await f.task("secrets", ["access", "--json"])).stdout);
  assertEquals(json.columns.map((c: { kind: string }) => c.kind), ["anchor", "anchor", "unknown"]);
});

Deno.test("21: a hand-written rule for files outside secrets/ passes --check and rekey alike", async () => {
  await using f = await createFixture(["web1"]);
  const text = await Deno.readTextFile(f.repo.path(".sops.yaml"));
  await f.repo.write({
    ".sops.yaml":
      `${text}  - path_regex: ^hosts/[^/]+/secrets\\.yaml$\n    key_groups:\n      - age:\n          - *admin_alice\n`,
  });
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
  const r = await f.task("rekey", []);
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stdout, "Everything is in step");
});

Deno.test("22: --dry-run of every changing command changes nothing, new-key included", async () => {
  await using f = await createFixture(["web1"]);
  await withNewAdmin(f);
  const before = await f.snapshot();
  const app1 = await makeHostKey(f.keysDir, "app1");
  const keyDir = `${f.keysDir}/not-yet`;
  const runs = [
    await f.task("rekey", ["--dry-run"]),
    await f.task("secrets", ["--dry-run", "revoke", "secrets/shared.yaml", "web1"]),
    await f.task("secrets", [
      "--dry-run",
      ...hostAddArgs("app1", `${app1.privatePath}.pub`),
    ]),
    await f.task("secrets", ["--dry-run", "grant", "secrets/shared.yaml", "web1"]),
    await f.task("secrets", ["--dry-run", "admin", "new-key", "--out", `${keyDir}/keys.txt`]),
  ];
  for (const r of runs) assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(runs[0]!.stderr, "would run: sops updatekeys -y secrets/web1.yaml");
  assertStringIncludes(runs[2]!.stderr, "would write configurations/app1/ssh_host_ed25519_key.pub");
  assertStringIncludes(
    runs[2]!.stderr,
    "would run: sops encrypt --filename-override secrets/app1.yaml",
  );
  assertStringIncludes(runs[4]!.stderr, `would create ${keyDir}`);
  assertEquals(await f.snapshot(), before);
  assert(!await exists(keyDir), "no folder made");
  assert(!await exists(f.repo.path(LOCK_FILE)), "no lock file made");
});
