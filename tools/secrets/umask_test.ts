// Issue 20, defect 6: under umask 000 every file and folder a run writes is still its own
// (folders 0700, files 0600), so another local user can neither read nor rewrite the work copy
// of `.sops.yaml` that `sops updatekeys` reads. Run with real sops under `sh -c 'umask 000'`,
// with a second user (made for the test) racing the run.
import { assert, assertEquals } from "../testing/assert.ts";
import { createFixture, type Fixture, makeAgeKey, run, SECRETS_PROGRAMS } from "./_test_support.ts";
import { createProgramsBin } from "../testing/task.ts";

async function withNewAdmin(f: Fixture) {
  const bob = await makeAgeKey(f.keysDir, "bob");
  const text = await Deno.readTextFile(f.repo.path(".sops.yaml"));
  await f.repo.write({
    ".sops.yaml": text.replace("  # Hosts:", `  - &admin_bob ${bob.recipient}\n  # Hosts:`)
      .replace("          - *admin_alice\n", "          - *admin_alice\n          - *admin_bob\n"),
  });
  return bob;
}

/** A user made for the test (removed at the end), with its uid and gid. */
async function withUser(): Promise<{ name: string; uid: string; gid: string } & AsyncDisposable> {
  const name = `mal${crypto.randomUUID().slice(0, 6)}`;
  const added = await run(["useradd", "--no-create-home", "--shell", "/bin/false", name]);
  assertEquals(added.code, 0, added.stderr);
  const uid = (await run(["id", "-u", name])).stdout.trim();
  const gid = (await run(["id", "-g", name])).stdout.trim();
  return {
    name,
    uid,
    gid,
    async [Symbol.asyncDispose]() {
      await run(["userdel", name]);
    },
  };
}

/** Runs `script` in bash as `user` (setpriv execs: the pid is bash's). */
function asUser(user: { uid: string; gid: string }, script: string, cwd: string) {
  return new Deno.Command("setpriv", {
    args: [`--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "bash", "-c", script],
    cwd,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

Deno.test("rekey under umask 000: the journal, work copies and work .sops.yaml are 0700/0600 and closed to another user", async () => {
  await using f = await createFixture(["web1"]);
  await using mallory = await withUser();
  await withNewAdmin(f);
  // A clone made under umask 000: every folder and file open to all.
  assertEquals((await run(["chmod", "-R", "a+rwX", f.repo.dir])).code, 0);
  await using bin = await createProgramsBin(SECRETS_PROGRAMS);
  // Killed after .sops.yaml was renamed into place: the journal, work/ and out/ are left as the
  // run made them (events: journal written, .sops.yaml recorded, .sops.yaml renamed).
  const killed = await run(
    [
      "/bin/sh",
      "-c",
      `umask 000; exec "$0" run -A tools/secrets/_kill_at.ts 3 rekey`,
      `${bin.dir}/deno`,
    ],
    { cwd: f.repo.dir, env: { PATH: bin.dir, NO_COLOR: "1", SOPS_AGE_KEY_FILE: f.admin.file } },
  );
  assertEquals(killed.code, 137, killed.stderr);
  const listed = await run(["find", ".rekey-journal", "-printf", "%m %y %p\n"], {
    cwd: f.repo.dir,
  });
  const entries = listed.stdout.trim().split("\n");
  for (const want of [".rekey-journal", ".rekey-journal/work", ".rekey-journal/work/.sops.yaml"]) {
    assert(entries.some((e) => e.endsWith(` ${want}`)), `${want} in ${listed.stdout}`);
  }
  const open = entries.filter((e) => !/^700 d /.test(e) && !/^600 f /.test(e));
  assertEquals(open, [], "every folder 0700 and every file 0600");
  // The lock names its holder to everyone but no one else can write it.
  assertEquals((await Deno.stat(f.repo.path(".rekey.lock"))).mode! & 0o777, 0o644);
  // The other user can neither read nor replace the config sops will read.
  const probe = await asUser(
    mallory,
    "cat .rekey-journal/work/.sops.yaml && echo READ; echo x > .rekey-journal/work/.sops.yaml && echo WROTE; ls .rekey-journal && echo LISTED; true",
    f.repo.dir,
  ).output();
  const said = new TextDecoder().decode(probe.stdout);
  assertEquals(said.includes("READ") || said.includes("WROTE") || said.includes("LISTED"), false);
  // The next run finishes the killed one, still under umask 000, while the other user keeps
  // trying to add her key to the work config (as the reproduction did): no file is for her.
  const key = await makeAgeKey(f.keysDir, "mallory");
  await Deno.chmod(key.file, 0o644);
  const work = ".rekey-journal/work/.sops.yaml";
  const racer = asUser(
    mallory,
    `while :; do if [ -f ${work} ]; then sed 's|^\\( *\\)- \\*admin_alice$|&\\n\\1- ${key.recipient}|' ${work} > ${work}.m 2>/dev/null && mv -f ${work}.m ${work} 2>/dev/null && echo injected; fi; done`,
    f.repo.dir,
  ).spawn();
  try {
    const r = await run(
      ["/bin/sh", "-c", `umask 000; exec "$0" task -q rekey`, `${bin.dir}/deno`],
      { cwd: f.repo.dir, env: { PATH: bin.dir, NO_COLOR: "1", SOPS_AGE_KEY_FILE: f.admin.file } },
    );
    assertEquals(r.code, 0, r.stderr);
  } finally {
    racer.kill("SIGKILL");
    const out = await racer.output();
    assertEquals(new TextDecoder().decode(out.stdout).includes("injected"), false);
  }
  for (const path of ["secrets/web1.yaml", "secrets/shared.yaml", "secrets/notes/alice.yaml"]) {
    assertEquals((await f.recipients(path)).includes(key.recipient), false, path);
    assertEquals((await f.decryptAs(path, key.file)).code === 0, false, path);
  }
  assertEquals((await f.task("rekey", ["--check"])).code, 0);
});
