// `deno task secrets password`, as users run it, with real sops, age and mkpasswd: set, change and
// remove a login password's hash in a host's file; the hash verifies against the typed password;
// the password reaches no file, no command line and no log line (--verbose included); a kill at
// any point leaves every file decrypting; bad input changes nothing.
import YAML from "yaml";
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { createProgramsBin } from "../testing/task.ts";
import { createFixture, type Fixture, run, SECRETS_PROGRAMS } from "./_test_support.ts";

/** The decrypted `passwords` map of a host file, as the admin reads it. */
async function passwords(f: Fixture, host: string): Promise<Record<string, string>> {
  const r = await f.decryptAs(`secrets/${host}.yaml`, f.admin.file);
  assertEquals(r.code, 0, r.stderr);
  return (YAML.parse(r.stdout) as { passwords?: Record<string, string> }).passwords ?? {};
}

/** Whether `hash` is crypt(3) of `password`, checked by Python's crypt (libxcrypt). */
async function verifies(password: string, hash: string): Promise<boolean> {
  const r = await run([
    "python3",
    "-W",
    "ignore",
    "-c",
    "import crypt,sys; p=sys.stdin.readline().rstrip('\\n'); h=sys.argv[1]; print(crypt.crypt(p, h) == h)",
    hash,
  ], { stdin: `${password}\n` });
  assertEquals(r.code, 0, r.stderr);
  return r.stdout.trim() === "True";
}

/** Every file under `dir` (but the installed toolkit, whose tests hold it) containing `needle`. */
async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const r = await run(["grep", "-rlaF", "--exclude-dir=tools", "--", needle, "."], { cwd: dir });
  return r.stdout.trim().split("\n").filter(Boolean);
}

const PASSWORD = "correct horse 7 battery";

Deno.test("secrets password: set, change, remove; the hash verifies; the token stays", async () => {
  await using f = await createFixture(["web1", "db1"]);
  const set = await f.task("secrets", ["password", "alice", "--host", "web1", "db1", "--stdin"], {
    stdin: `${PASSWORD}\n`,
  });
  assertEquals(set.code, 0, set.stderr);
  assertStringIncludes(set.stdout, "secrets/web1.yaml: updated");
  assertStringIncludes(set.stdout, "secrets/db1.yaml: updated");
  assertStringIncludes(
    set.stderr,
    "deploy to apply (a host uses it where devops.passwords.users lists alice)",
  );
  const first = (await passwords(f, "web1")).alice!;
  assert(first.startsWith("$y$"), `yescrypt: ${first}`);
  assert(await verifies(PASSWORD, first), "the hash verifies against the typed password");
  assert(!(await verifies("wrong", first)), "and not against another");
  assert(await verifies(PASSWORD, (await passwords(f, "db1")).alice!));
  // The file's other secrets are untouched, and the host still reads its file.
  const host = await f.decryptAs("secrets/web1.yaml", f.hosts.get("web1")!.identityFile);
  assertEquals(host.code, 0, host.stderr);
  assertEquals(YAML.parse(host.stdout).token, "web1-secret");

  // Change: no --host needed, every host that has one gets the new hash.
  const changed = await f.task("secrets", ["password", "alice", "--stdin"], {
    stdin: "new one\n",
  });
  assertEquals(changed.code, 0, changed.stderr);
  for (const h of ["web1", "db1"]) {
    const hash = (await passwords(f, h)).alice!;
    assert(await verifies("new one", hash), `${h}: new password`);
    assert(!(await verifies(PASSWORD, hash)), `${h}: old password gone`);
  }

  // Remove on one host, then everywhere else.
  const removed = await f.task("secrets", ["password", "alice", "--host", "web1", "--remove"]);
  assertEquals(removed.code, 0, removed.stderr);
  assertEquals(await passwords(f, "web1"), {});
  assert((await passwords(f, "db1")).alice !== undefined);
  const all = await f.task("secrets", ["password", "alice", "--remove"]);
  assertEquals(all.code, 0, all.stderr);
  assertEquals(await passwords(f, "db1"), {});
  assertEquals(
    YAML.parse((await f.decryptAs("secrets/db1.yaml", f.admin.file)).stdout).token,
    "db1-secret",
  );
  const check = await f.task("rekey", ["--check"]);
  assertEquals(check.code, 0, check.stdout);
});

Deno.test("secrets password: the password reaches no command line, file or log, --verbose included", async () => {
  await using f = await createFixture(["web1"]);
  await using bin = await createProgramsBin(SECRETS_PROGRAMS);
  const secret = `s3cret-${crypto.randomUUID()}`;
  const child = new Deno.Command(`${bin.dir}/deno`, {
    args: ["task", "-q", "secrets", "--verbose", "password", "alice", "--host", "web1", "--stdin"],
    cwd: f.repo.dir,
    env: { PATH: bin.dir, NO_COLOR: "1", INIT_CWD: f.repo.dir, SOPS_AGE_KEY_FILE: f.admin.file },
    clearEnv: false,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let exited = false;
  const output = child.output().finally(() => exited = true);
  const seen = new Set<string>();
  const hits: string[] = [];
  const scan = async () => {
    for await (const entry of Deno.readDir("/proc")) {
      if (!/^\d+$/.test(entry.name) || entry.name === String(Deno.pid)) continue;
      const bytes = await Deno.readFile(`/proc/${entry.name}/cmdline`).catch(() => null);
      if (bytes === null) continue;
      const cmdline = new TextDecoder().decode(bytes).replaceAll("\0", " ");
      if (cmdline.includes(secret)) hits.push(cmdline);
      for (const program of ["secrets/main.ts", "mkpasswd", "sops"]) {
        if (cmdline.includes(program)) seen.add(program);
      }
    }
  };
  await scan();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(`${secret}\n`));
  await writer.close();
  while (!exited) {
    await scan();
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  const { code, stdout, stderr } = await output;
  const text = `${new TextDecoder().decode(stdout)}${new TextDecoder().decode(stderr)}`;
  assertEquals(code, 0, text);
  assertEquals(hits, [], "the password on a command line");
  assert(seen.has("secrets/main.ts"), `the scan saw the run: ${[...seen]}`);
  assert(!text.includes(secret), "the password in the output");
  assertStringIncludes(text, "mkpasswd -m yescrypt -s");
  assertStringIncludes(text, "sops set --value-stdin");
  const hash = (await passwords(f, "web1")).alice!;
  assert(!text.includes(hash), "the hash in the output");
  assert(await verifies(secret, hash));
  assertEquals(await filesContaining(f.repo.dir, secret), [], "the password in a file");
  assertEquals(await filesContaining(f.repo.dir, hash), [], "the hash in clear in a file");
});

Deno.test("secrets password: bad input is one line and changes nothing", async () => {
  await using f = await createFixture(["web1"]);
  const before = await f.snapshot();
  const cases: [string[], string | undefined, number, string][] = [
    [["password", "alice", "--host", "web1"], "pw\n", 2, "stdin is not a terminal"],
    [
      ["password", "alice", "--stdin"],
      "pw\n",
      2,
      "has a password on no host yet: name the hosts with --host",
    ],
    [
      ["password", "alice", "--host", "nope", "--stdin"],
      "pw\n",
      1,
      "there is no secrets/nope.yaml",
    ],
    [["password", "alice", "--host", "web1", "--remove"], undefined, 1, "it has none there"],
    [["password", "alice", "--host", "web1", "--stdin"], "\n", 1, "Cannot set an empty password"],
    [
      ["password", "Bad/Name", "--host", "web1", "--stdin"],
      "pw\n",
      2,
      'Invalid user name "Bad/Name"',
    ],
  ];
  for (const [args, stdin, code, message] of cases) {
    const r = await f.task("secrets", args, stdin === undefined ? {} : { stdin });
    assertEquals(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assertStringIncludes(r.stderr, message, args.join(" "));
    assertEquals(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
    assertEquals(await f.snapshot(), before, `${args.join(" ")} changed nothing`);
  }
  // An operator who cannot decrypt the host file: sops's cause, nothing changed.
  const other = `${f.keysDir}/other.txt`;
  await run(["age-keygen", "-o", other]);
  const r = await f.task("secrets", ["password", "alice", "--host", "web1", "--stdin"], {
    identityFile: other,
    stdin: "pw\n",
  });
  assertEquals(r.code, 1);
  assertStringIncludes(r.stderr, "is not one of its recipients");
  assertEquals(await f.snapshot(), before);
  // --dry-run hashes and shows the step, and writes nothing.
  const dry = await f.task("secrets", [
    "--dry-run",
    "password",
    "alice",
    "--host",
    "web1",
    "--stdin",
  ], {
    stdin: "pw\n",
  });
  assertEquals(dry.code, 0, dry.stderr);
  assertStringIncludes(dry.stderr, "would run: sops set --value-stdin secrets/web1.yaml");
  assertEquals(await f.snapshot(), before);
});

Deno.test("secrets password: killed at every point, every file decrypts; then done or undone", async () => {
  await using bin = await createProgramsBin(SECRETS_PROGRAMS);
  for (let at = 1; at < 50; at++) {
    await using f = await createFixture(["web1", "db1"]);
    const killed = await run([
      `${bin.dir}/deno`,
      "run",
      "-A",
      "tools/secrets/_kill_at.ts",
      String(at),
      "password",
      "alice",
      "--host",
      "web1",
      "db1",
      "--stdin",
      "--parallel",
      "1",
    ], {
      cwd: f.repo.dir,
      env: { PATH: bin.dir, NO_COLOR: "1", SOPS_AGE_KEY_FILE: f.admin.file },
      stdin: `${PASSWORD}\n`,
    });
    if (killed.code !== 137) {
      assertEquals(killed.code, 0, `not killed at ${at}: ${killed.stderr}`);
      assert(at > 3, `the run had kill points (${at})`);
      return;
    }
    for (const h of ["web1", "db1"]) {
      const r = await f.decryptAs(`secrets/${h}.yaml`, f.admin.file);
      assertEquals(r.code, 0, `killed at ${at}: ${h} decrypts: ${r.stderr}`);
    }
    const finished = await f.task("rekey", at % 2 === 0 ? ["--abort"] : []);
    assertEquals(finished.code, 0, `after a kill at ${at}: ${finished.stderr}`);
    // All or nothing: the password is on both hosts or on neither.
    const got = await Promise.all(["web1", "db1"].map(async (h) => (await passwords(f, h)).alice));
    assert(
      got.every((h) => h === undefined) || got.every((h) => h !== undefined),
      `after a kill at ${at}: ${JSON.stringify(got)}`,
    );
    for (const hash of got) if (hash !== undefined) assert(await verifies(PASSWORD, hash));
    assertEquals(await filesContaining(f.repo.dir, PASSWORD), [], `killed at ${at}`);
    const check = await f.task("rekey", ["--check"]);
    assertEquals(check.code, 0, `after a kill at ${at}: ${check.stdout}`);
  }
  throw new Error("killed at 50 points: the hook never stopped");
});

/** Runs `secrets password …` on a pseudo-terminal (util-linux `script`), typing `lines` as prompts appear. */
async function onTerminal(f: Fixture, args: string[], lines: string[]) {
  await using bin = await createProgramsBin(SECRETS_PROGRAMS);
  const command = [`${bin.dir}/deno`, "task", "-q", "secrets", ...args].map((a) => `'${a}'`)
    .join(" ");
  const child = new Deno.Command("script", {
    args: ["-qfec", command, "/dev/null"],
    cwd: f.repo.dir,
    env: {
      PATH: `${bin.dir}:/usr/bin:/bin`,
      NO_COLOR: "1",
      INIT_CWD: f.repo.dir,
      SOPS_AGE_KEY_FILE: f.admin.file,
    },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  const reader = child.stdout.getReader();
  let text = "";
  let prompts = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
    // Type the next line only once its prompt is shown: raw mode (no echo) is on by then.
    const shown = (text.match(/New password for [^:]+: |Again: /g) ?? []).length;
    while (prompts < shown && prompts < lines.length) {
      await writer.write(new TextEncoder().encode(`${lines[prompts]}\r`));
      prompts++;
    }
  }
  await writer.close().catch(() => {});
  const status = await child.status;
  await child.stderr.cancel();
  return { code: status.code, text };
}

Deno.test("secrets password: at a terminal it asks twice, echoes nothing and refuses a mismatch", async () => {
  await using f = await createFixture(["web1"]);
  const before = await f.snapshot();
  const differ = await onTerminal(f, ["password", "alice", "--host", "web1"], ["one-pw", "two-pw"]);
  assertEquals(differ.code, 1, differ.text);
  assertStringIncludes(differ.text, "the two entries differ");
  assertStringIncludes(differ.text, "Again: ");
  assert(!differ.text.includes("one-pw") && !differ.text.includes("two-pw"), differ.text);
  assertEquals(await f.snapshot(), before);
  // Typed ahead: both lines as soon as the first prompt shows; still no echo.
  const ok = await onTerminal(f, ["password", "alice", "--host", "web1"], [
    `${PASSWORD}\r${PASSWORD}`,
  ]);
  assertEquals(ok.code, 0, ok.text);
  assert(!ok.text.includes(PASSWORD), `echoed: ${ok.text}`);
  assert(await verifies(PASSWORD, (await passwords(f, "web1")).alice!));
});
