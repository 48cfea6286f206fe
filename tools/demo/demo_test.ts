// End-to-end tests of `deno task demo`: run as users do, with deno.json's permissions and the
// real programs (nix, sshd, ssh, unshare) on a PATH outside the repository; interrupted; twice at
// once; as a user who is not root.
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/assert.ts";
import { runProgram } from "../testing/run.ts";
import {
  createProgramsBin,
  installToolkit,
  type ProgramsBin,
  runTask,
  TOOL_PROGRAMS,
} from "../testing/task.ts";

/** What the demo runs besides the tools' programs; coreutils for the test hosts' init. */
const DEMO_BIN = [
  ...TOOL_PROGRAMS,
  "unshare",
  "nsenter",
  "setpriv",
  "setsid",
  "mount",
  "ip",
  "nft",
  "ln",
  "readlink",
  "sleep",
] as const;

const DENO_DIR = Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`;

/** A clone of the toolkit (deno.json, deno.lock, tools/), a bin folder and an empty HOME. */
async function checkout() {
  const dir = await Deno.makeTempDir({ prefix: "devops-demo-test-" });
  await installToolkit(dir);
  await Deno.mkdir(`${dir}/home`);
  await Deno.mkdir(`${dir}/nix-conf`);
  const bin = await createProgramsBin(DEMO_BIN);
  return {
    dir,
    bin,
    /** An empty HOME (nix's user settings) and NIX_CONF_DIR (hides /etc/nix/nix.conf). */
    env: {
      HOME: `${dir}/home`,
      DENO_DIR,
      NIX_CONF_DIR: `${dir}/nix-conf`,
    } as Record<string, string>,
    async [Symbol.asyncDispose]() {
      await bin[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** The folders and addresses a demo run names on stderr. */
interface Started {
  work: string;
  hostsDir: string;
  addresses: string[];
}

function started(stderr: string): Started {
  const folders = /demo: work folder (\S+), test hosts in (\S+)/.exec(stderr);
  assert(folders, `the demo names its folders: ${stderr}`);
  const addresses = [...stderr.matchAll(/\b(?:web1|web2|db1) (127\.0\.0\.\d+):22\b/g)].map((m) =>
    m[1]!
  );
  return { work: folders[1]!, hostsDir: folders[2]!, addresses: [...new Set(addresses)] };
}

/** Processes that still use one of `paths`: in their command line, environment or mounts. */
async function processesUsing(paths: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    const texts = await Promise.all(
      ["cmdline", "environ", "mountinfo"].map((f) =>
        Deno.readTextFile(`/proc/${entry.name}/${f}`).catch(() => "")
      ),
    );
    if (paths.some((p) => texts.some((t) => t.includes(p)))) {
      found.push(`${entry.name} ${texts[0]!.replaceAll("\0", " ").trim()}`);
    }
  }
  return found;
}

/** Asserts that nothing the demo started is left: processes, folders, address leases. */
async function assertNothingLeft(run: Started): Promise<void> {
  const paths = [run.work, run.hostsDir];
  // Processes end a moment after their host is killed (an ssh client sees its peer go): poll.
  let left = await processesUsing(paths);
  for (let round = 0; round < 100 && left.length > 0; round++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    left = await processesUsing(paths);
  }
  assertEquals(left, [], "no process of the demo lives on");
  for (const path of paths) {
    assertEquals(await Deno.stat(path).then(() => true, () => false), false, `${path} is removed`);
  }
  for (const address of run.addresses) {
    const lock = await Deno.readTextFile(`/tmp/devops-test-hosts/${address}.lock`).catch(() => "");
    assert(!lock.includes(run.hostsDir), `the lease of ${address} is released`);
  }
}

/** Names, sizes and times of the files in root's ~/.ssh (ssh finds it from passwd, not HOME). */
async function sshDirState(): Promise<string[]> {
  const home = (await Deno.readTextFile("/etc/passwd")).split("\n")
    .map((line) => line.split(":")).find((fields) => fields[2] === "0")?.[5] ?? "/root";
  const entries = await Array.fromAsync(Deno.readDir(`${home}/.ssh`)).catch(() => []);
  const state = await Promise.all(entries.map(async (entry) => {
    const info = await Deno.lstat(`${home}/.ssh/${entry.name}`);
    return `${entry.name} ${info.size} ${info.mtime?.getTime()}`;
  }));
  return [`${home}/.ssh`, ...state.sort()];
}

interface DemoReport {
  ok: boolean;
  durationMs: number;
  deploys: { release: number; exitCode: number; report: { hosts: { host: string }[] } }[];
  hosts: {
    host: string;
    ok: boolean;
    expected: { kind: string; generation: number; version: number };
    observed: {
      generation?: number;
      version?: number;
      activeVersion?: number;
      delivered: number[];
    };
  }[];
}

/** The --json result: two hosts confirmed, db1 rolled back, read from the hosts. */
function assertJsonOutcome(result: { code: number; stdout: string; stderr: string }): void {
  assertEquals(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as DemoReport;
  assertEquals(report.ok, true);
  assertEquals(
    report.hosts.map((h) => [h.host, h.expected.kind, h.observed, h.ok]),
    [
      [
        "web1",
        "confirmed",
        { generation: 2, version: 2, activeVersion: 2, delivered: [1, 2] },
        true,
      ],
      [
        "web2",
        "confirmed",
        { generation: 2, version: 2, activeVersion: 2, delivered: [1, 2] },
        true,
      ],
      [
        "db1",
        "rolled-back",
        { generation: 1, version: 1, activeVersion: 1, delivered: [1, 2] },
        true,
      ],
    ],
  );
  // Deploy's own verdicts: release 1 all well, release 2 failed (db1 rolled back).
  assertEquals(report.deploys.map((d) => [d.release, d.exitCode]), [[1, 0], [2, 1]]);
  assertEquals(report.deploys[1]!.report.hosts.map((h) => h.host).sort(), ["db1", "web1", "web2"]);
}

/** The text output: progress, closure diff, the failed check's cause, the final table. */
function assertTextOutput(result: { code: number; stdout: string; stderr: string }): void {
  assertEquals(result.code, 0, result.stderr);
  // The deploy's progress and closure diff (stderr), its tables and the demo's (stdout); only
  // what nix and the demo systems print is matched, not the deploy's wording.
  const output = `${result.stderr}\n${result.stdout}`;
  assertStringIncludes(result.stderr, "release 2: version 2 (demo-app 1.1) everywhere");
  for (const host of ["web1", "web2", "db1"]) {
    assertStringIncludes(output, `nixos-system-${host}: 1 → 2`, "each host's closure diff");
  }
  assertStringIncludes(output, "demo-app: 1.0 → 1.1");
  assertStringIncludes(output, "db1: demo-app 1.1 does not answer", "the failed check says why");
  assertEquals(output.includes("web1: demo-app 1.1 does not answer"), false);
  const table = result.stdout.slice(result.stdout.lastIndexOf("host  generation  version"));
  assertEquals(table.trimEnd().split("\n"), [
    "host  generation  version  active  expected                 check",
    "web1  2           2        2       confirmed (version 2)    ok",
    "web2  2           2        2       confirmed (version 2)    ok",
    "db1   1           1        1       rolled back (version 1)  ok",
  ]);
  assertMatch(result.stderr, /demo: done in \d+\.\d s/);
}

// One test runs two demos at once (as two users could): each needs hosts of its own.
Deno.test("deno task demo, twice at once (--json, and text with TMPDIR outside /tmp): two hosts confirm, db1 rolls back; nothing global changes, nothing is left", async () => {
  await using jsonRepo = await checkout();
  await using textRepo = await checkout();
  const nixConf = await Deno.readTextFile("/etc/nix/nix.conf").catch(() => undefined);
  const sshDir = await sshDirState();
  // The deploy may write under /tmp only: the demo's folders stay there whatever TMPDIR says.
  const tmp = await Deno.makeTempDir({ dir: "/var/tmp", prefix: "devops-demo-tmpdir-" });
  const [json, text] = await Promise.all([
    runTask(jsonRepo.dir, "demo", ["--json"], { bin: jsonRepo.bin, env: jsonRepo.env }),
    runTask(textRepo.dir, "demo", [], { bin: textRepo.bin, env: { ...textRepo.env, TMPDIR: tmp } }),
  ]).finally(() => Deno.remove(tmp, { recursive: true }));
  assertJsonOutcome(json);
  assertTextOutput(text);
  const [runA, runB] = [started(json.stderr), started(text.stderr)];
  assert(runA.hostsDir !== runB.hostsDir);
  await assertNothingLeft(runA);
  await assertNothingLeft(runB);
  assertEquals(await sshDirState(), sshDir, "~/.ssh is never written");
  assertEquals(await Deno.readTextFile("/etc/nix/nix.conf").catch(() => undefined), nixConf);
});

Deno.test("deno task demo with TMPDIR missing, or holding a space: the test hosts start all the same", async () => {
  // sshd_config and NIX_SSHOPTS split paths at spaces; the harness keeps its folders in /tmp.
  await using missingRepo = await checkout();
  await using spacedRepo = await checkout();
  const spaced = `${spacedRepo.dir}/tmp dir`;
  await Deno.mkdir(spaced);
  const [missing, space] = await Promise.all([
    runTask(missingRepo.dir, "demo", ["--json"], {
      bin: missingRepo.bin,
      env: { ...missingRepo.env, TMPDIR: `${missingRepo.dir}/no such folder` },
    }),
    runTask(spacedRepo.dir, "demo", ["--json"], {
      bin: spacedRepo.bin,
      env: { ...spacedRepo.env, TMPDIR: spaced },
    }),
  ]);
  assertJsonOutcome(missing);
  assertJsonOutcome(space);
  for (const result of [missing, space]) {
    const run = started(result.stderr);
    assertMatch(run.hostsDir, /^\/tmp\/devops-hosts-/);
    await assertNothingLeft(run);
  }
  assertEquals([...Deno.readDirSync(spaced)], [], "nothing is written to TMPDIR");
});

Deno.test("deno task demo beside the machine's own sshd on 0.0.0.0:22 (a network namespace stands for the machine)", async () => {
  await using repo = await checkout();
  // The "machine": a network namespace of the test's own, where something holds 0.0.0.0:22
  // (test hosts on 127.0.0.N:22 could not listen there) while the demo runs.
  const script = `${repo.dir}/machine.ts`;
  await Deno.writeTextFile(
    script,
    `const listener = Deno.listen({ hostname: "0.0.0.0", port: 22 });
const demo = await new Deno.Command(Deno.args[0], {
  args: ["task", "-q", "demo", "--json"],
  stdout: "piped",
  stderr: "piped",
}).output();
listener.close();
await Deno.stdout.write(demo.stdout);
await Deno.stderr.write(demo.stderr);
Deno.exit(demo.code);
`,
  );
  const deno = `${repo.bin.dir}/deno`;
  const result = await runProgram(
    ["unshare", "--net", "--", deno, "run", "--allow-all", script, deno],
    { cwd: repo.dir, env: { ...repo.env, PATH: repo.bin.dir, NO_COLOR: "1" } },
  );
  assertJsonOutcome(result);
  await assertNothingLeft(started(result.stderr));
});

/** Runs the demo until `marker` is on its stderr, sends `signal`, and waits for the end. */
async function interruptDemo(
  repo: { dir: string; bin: ProgramsBin; env: Record<string, string> },
  marker: RegExp,
  signal: "SIGINT" | "SIGTERM" | "SIGKILL",
  options: { group: boolean; target?: () => Promise<number> },
): Promise<{ code: number; stderr: string }> {
  // In a session of its own, the demo's process group is what a terminal's Ctrl-C signals.
  const argv = [`${repo.bin.dir}/deno`, "task", "-q", "demo"];
  const child = new Deno.Command(options.group ? `${repo.bin.dir}/setsid` : argv[0]!, {
    args: options.group ? argv : argv.slice(1),
    cwd: repo.dir,
    env: { ...repo.env, PATH: repo.bin.dir, NO_COLOR: "1" },
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  let sent = false;
  const decoder = new TextDecoder();
  const bound = setTimeout(() => child.kill("SIGKILL"), 120_000);
  try {
    for await (const chunk of child.stderr) {
      stderr += decoder.decode(chunk, { stream: true });
      if (!sent && marker.test(stderr)) {
        sent = true;
        const pid = options.target ? await options.target() : child.pid;
        Deno.kill(options.group ? -pid : pid, signal);
      }
    }
    const status = await child.status;
    assert(sent, `the demo ended before ${marker}: ${stderr}`);
    return { code: status.code, stderr };
  } finally {
    clearTimeout(bound);
  }
}

const MOMENTS: { name: string; marker: RegExp; signal: "SIGINT" | "SIGTERM"; group: boolean }[] = [
  { name: "once its hosts run", marker: /test hosts in \S+\n/, signal: "SIGINT", group: false },
  {
    name: "during the second deploy's activation (Ctrl-C: the whole process group)",
    marker: /release 2:[^]*activating/,
    signal: "SIGINT",
    group: true,
  },
  {
    name: "during the first deploy",
    marker: /demo: \$ deno task deploy/,
    signal: "SIGTERM",
    group: false,
  },
];

for (const moment of MOMENTS) {
  Deno.test(`deno task demo stopped by ${moment.signal} ${moment.name} removes everything`, async () => {
    await using repo = await checkout();
    const result = await interruptDemo(repo, moment.marker, moment.signal, moment);
    assertEquals(result.code, moment.signal === "SIGINT" ? 130 : 143, result.stderr);
    assertStringIncludes(result.stderr, "demo: interrupted; everything it started is removed");
    await assertNothingLeft(started(result.stderr));
  });
}

Deno.test("deno task demo after a demo killed with SIGKILL: the next run removes what it left", async () => {
  await using repo = await checkout();
  // SIGKILL the inner demo (the one in the network namespace) once its hosts run.
  const inner = async () => {
    for await (const entry of Deno.readDir("/proc")) {
      const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`).catch(() => "");
      if (cmdline.includes("--in-namespace") && cmdline.includes(repo.dir)) {
        return Number(entry.name);
      }
    }
    throw new Error("no inner demo process");
  };
  let killed: number | undefined;
  const first = await interruptDemo(repo, /test hosts in \S+\n/, "SIGKILL", {
    group: false,
    target: async () => killed = await inner(),
  });
  assert(killed !== undefined);
  const left = started(first.stderr);
  assertEquals(await Deno.stat(left.work).then(() => true, () => false), true, "left behind");
  const again = await runTask(repo.dir, "demo", ["--json"], { bin: repo.bin, env: repo.env });
  assertEquals(again.code, 0, again.stderr);
  assertStringIncludes(again.stderr, `demo: removed ${left.work} of a killed demo`);
  await assertNothingLeft(left);
  await assertNothingLeft(started(again.stderr));
});

/** Replaces the checkout's `deploy` task (a checkout the demo did not expect). */
async function replaceDeployTask(repoDir: string, command: string): Promise<void> {
  const config = JSON.parse(await Deno.readTextFile(`${repoDir}/deno.json`));
  config.tasks.deploy = command;
  await Deno.writeTextFile(`${repoDir}/deno.json`, JSON.stringify(config, null, 2));
}

Deno.test("deno task demo with a deploy that changes nothing: exit 1 naming release and hosts, nothing left", async () => {
  await using repo = await checkout();
  await replaceDeployTask(repo.dir, "sh -c 'exit 3'");
  const text = await runTask(repo.dir, "demo", [], { bin: repo.bin, env: repo.env });
  assertEquals(text.code, 1, text.stderr);
  assertEquals(
    text.stderr.trim().split("\n").at(-1),
    "error: The demo went wrong at release 1: web1, web2, db1 do not run what they should (see the table)",
  );
  assertStringIncludes(
    text.stdout,
    "web1  –           –        –       confirmed (version 1)  WRONG",
  );
  assertEquals(text.stderr.includes("release 2"), false, "it stops at the first wrong release");
  await assertNothingLeft(started(text.stderr));
  const json = await runTask(repo.dir, "demo", ["--json"], { bin: repo.bin, env: repo.env });
  assertEquals(json.code, 1);
  assertEquals(
    json.stderr.trim().split("\n").at(-1),
    "error: deno task deploy printed no JSON report (exit code 3)",
  );
  await assertNothingLeft(started(json.stderr));
});

Deno.test("deno task demo where release 2 never reaches db1: db1 did not roll back, exit 1", async () => {
  await using repo = await checkout();
  // The real deploy, but release 2 goes to web1 and web2 only, as if db1 could not be reached:
  // db1 then runs version 1 like a rolled-back host, without ever having had version 2.
  const config = JSON.parse(await Deno.readTextFile(`${repo.dir}/deno.json`));
  const deploy = String(config.tasks.deploy);
  await Deno.writeTextFile(
    `${repo.dir}/deploy-skipping-db1.sh`,
    `if [ -e "$0.ran" ]; then shift; set -- web1 web2 "$@"; fi
: > "$0.ran"
exec ${deploy} "$@"
`,
  );
  await replaceDeployTask(repo.dir, "sh ./deploy-skipping-db1.sh");
  const result = await runTask(repo.dir, "demo", [], { bin: repo.bin, env: repo.env });
  assertEquals(result.code, 1, result.stderr);
  assertEquals(
    result.stderr.trim().split("\n").at(-1),
    "error: The demo went wrong at release 2: db1 do not run what they should (see the table)",
  );
  assertStringIncludes(
    result.stdout,
    "db1   1           1        1       rolled back (version 1)  WRONG",
  );
  await assertNothingLeft(started(result.stderr));
});

Deno.test("deno task demo with a deploy that hangs: SIGINT ends it and removes everything", async () => {
  await using repo = await checkout();
  // deno task appends the demo's arguments to the last command: sleep must not get them.
  await replaceDeployTask(repo.dir, "sleep 1000 && sh -c :");
  const result = await interruptDemo(repo, /demo: \$ deno task deploy/, "SIGINT", {
    group: false,
  });
  assertEquals(result.code, 130, result.stderr);
  await assertNothingLeft(started(result.stderr));
});

Deno.test("deno task demo as a user who is not root: one line saying it needs root", async () => {
  await using repo = await checkout();
  // nobody reads a copy of the npm cache and the checkout; it can write nothing of root's.
  const denoDir = `${repo.dir}/deno-dir`;
  await Deno.mkdir(denoDir);
  const copy = await runProgram(["cp", "-r", `${DENO_DIR}/npm`, denoDir]);
  assertEquals(copy.code, 0, copy.stderr);
  for (const path of [repo.dir, repo.bin.dir]) {
    assertEquals((await runProgram(["chmod", "-R", "a+rX", path])).code, 0);
  }
  assertEquals((await runProgram(["chown", "-R", "nobody", `${repo.dir}/home`, denoDir])).code, 0);
  const result = await runProgram([
    "setpriv",
    "--reuid=nobody",
    "--regid=nogroup",
    "--clear-groups",
    "--",
    `${repo.bin.dir}/deno`,
    "task",
    "-q",
    "demo",
  ], {
    cwd: repo.dir,
    env: { ...repo.env, DENO_DIR: denoDir, PATH: repo.bin.dir, NO_COLOR: "1" },
  });
  assertEquals(result.code, 1, result.stderr);
  assertEquals(result.stderr.trim().split("\n").length, 1, result.stderr);
  assertMatch(result.stderr, /^error: deno task demo needs root: .*namespaces/);
  assertEquals(result.stdout, "");
});

Deno.test("deno task demo as root without CAP_SYS_ADMIN (a container): one line, nothing started", async () => {
  await using repo = await checkout();
  const result = await runProgram([
    "setpriv",
    "--bounding-set=-sys_admin",
    "--inh-caps=-sys_admin",
    "--",
    `${repo.bin.dir}/deno`,
    "task",
    "-q",
    "demo",
  ], { cwd: repo.dir, env: { ...repo.env, PATH: repo.bin.dir, NO_COLOR: "1" } });
  assertEquals(result.code, 1, result.stderr);
  assertEquals(result.stderr.trim().split("\n"), [
    "error: Cannot make namespaces for the demo: unshare: unshare failed: Operation not permitted; it needs root with CAP_SYS_ADMIN (not a restricted container)",
  ]);
});

Deno.test("deno task demo names a missing program and starts nothing", async () => {
  await using repo = await checkout();
  await using bin = await createProgramsBin(DEMO_BIN.filter((p) => p !== "unshare"));
  const result = await runTask(repo.dir, "demo", [], { bin, env: repo.env });
  assertEquals(result.code, 1);
  assertMatch(
    result.stderr.trim(),
    /^error: Cannot run the demo: unshare not installed; run tools\/testing\/install_test_programs\.sh as root$/,
  );
});

Deno.test("deno task demo --help and --dry-run start nothing; the dry run shows the deploy commands", async () => {
  await using repo = await checkout();
  const help = await runTask(repo.dir, "demo", ["--help"], { bin: repo.bin, env: repo.env });
  assertEquals(help.code, 0, help.stderr);
  assertStringIncludes(help.stdout, "Runs as root");
  assert(!help.stdout.includes("--in-namespace"), "the internal flag stays hidden");
  assert(!help.stdout.includes("--repo"), "a refused flag is not offered");
  const dry = await runTask(repo.dir, "demo", ["--dry-run"], { bin: repo.bin, env: repo.env });
  assertEquals(dry.code, 0, dry.stderr);
  const lines = dry.stderr.trim().split("\n");
  assertEquals(lines.length, 8);
  assertStringIncludes(lines[0]!, "would start test hosts web1, web2, db1");
  assertStringIncludes(
    lines[2]!,
    "would run: deno task deploy --all --repo '<work>/fleet' --parallel 3",
  );
  assertEquals(dry.stderr.includes("test hosts in"), false, "no host was started");
  const usage = await runTask(repo.dir, "demo", ["--repo", "."], { bin: repo.bin, env: repo.env });
  assertEquals(usage.code, 2);
  assertStringIncludes(usage.stderr, "the demo makes its own fleet repository");
  const internal = await runTask(repo.dir, "demo", ["--in-namespace"], {
    bin: repo.bin,
    env: repo.env,
  });
  assertEquals([internal.code, internal.stderr.trim()], [
    2,
    "error: Cannot use --in-namespace: it is internal; run deno task demo",
  ]);
});

Deno.test("the demo's internal --in-namespace, run by hand in a namespace others use, is refused and kills nothing", async () => {
  await using repo = await checkout();
  // As `ip netns exec <ns> deno run … --in-namespace` would: deno's parent is in another
  // network namespace, and the namespace holds a process that is not the demo's.
  const pidFile = `${repo.dir}/other.pid`;
  const result = await runProgram([
    "unshare",
    "--net",
    "--",
    "sh",
    "-c",
    `sleep 1000 </dev/null >/dev/null 2>&1 & echo $! > '${pidFile}'; exec '${repo.bin.dir}/deno' run --allow-all tools/demo/main.ts --in-namespace`,
  ], { cwd: repo.dir, env: { ...repo.env, PATH: repo.bin.dir, NO_COLOR: "1" } });
  const other = Number((await Deno.readTextFile(pidFile)).trim());
  const alive = await Deno.stat(`/proc/${other}`).then(() => true, () => false);
  if (alive) Deno.kill(other, "SIGKILL");
  assertEquals([result.code, result.stderr.trim()], [
    2,
    "error: Cannot use --in-namespace: it is internal; run deno task demo",
  ]);
  assert(alive, "the other process in the namespace lives on");
});

Deno.test("install_test_programs.sh --demo gets a machine ready for the demo and edits no nix.conf", async () => {
  await using repo = await checkout();
  const before = await Deno.stat("/etc/nix/nix.conf").catch(() => undefined);
  const text = await Deno.readTextFile("/etc/nix/nix.conf").catch(() => undefined);
  const script = `${repo.dir}/tools/testing/install_test_programs.sh`;
  const result = await runProgram(["bash", script, "--demo"]);
  assertEquals(result.code, 0, result.stderr);
  assertMatch(result.stderr, /install: ready for deno task demo: deno \S+, nix \(Nix\) /);
  assertEquals(await Deno.readTextFile("/etc/nix/nix.conf").catch(() => undefined), text);
  const after = await Deno.stat("/etc/nix/nix.conf").catch(() => undefined);
  assertEquals(after?.mtime, before?.mtime);
  const usage = await runProgram(["bash", script, "--demo-please"]);
  assertEquals([usage.code, usage.stderr.includes("usage:")], [2, true]);
});
