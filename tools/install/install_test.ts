// End-to-end tests of `deno task install` as users run it, with the real sops, age, ssh-keygen,
// nix and a real sshd test host. nixos-anywhere cannot run here (it kexecs and partitions a
// machine): a recording stand-in takes its place on PATH. It records what it received while it
// runs (argv, the extra-files tree with modes and contents, the disk key files), then waits for
// the test to "install" the test host — the system closure copied and activated, the secrets
// decrypted on the host by sops with the installed key's age identity, sshd restarted with the
// installed host key — so the tool's checks after the reboot run for real.
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/assert.ts";
import { createExampleClone } from "../testing/example_clone.ts";
import { sshPrivateKeyToAgeIdentity, sshPublicKeyToAge } from "../lib/sops/age_keys.ts";
import { fingerprint } from "../lib/fleet/mod.ts";
import { createFixtureFlake, type FixtureFlake } from "../testing/fixture_flake.ts";
import { runProgram, runProgramOk } from "../testing/run.ts";
import { createProgramsBin, installToolkit, type ProgramsBin, runTask } from "../testing/task.ts";
import { startTestHosts, type TestHost, type TestHosts } from "../testing/test_hosts.ts";
import type { InstallReport } from "./execute.ts";

const HOST = "box1";
const DENO_DIR = Deno.env.get("DENO_DIR") ??
  `${Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`}/deno`;

const DISKO = `# Two LUKS devices share one passphrase file; a third has its own key file.
{
  disko.devices.disk = {
    a.content.partitions.luks.content = { type = "luks"; passwordFile = "/tmp/disk-encryption.key"; };
    b.content.partitions.luks.content = { type = "luks"; passwordFile = "/tmp/disk-encryption.key"; };
    c.content.partitions.luks.content = { type = "luks"; keyFile = "/tmp/data.key"; };
  };
}
`;

const SECRETS = `kopia-password: s3cret-kopia
disk-encryption-keys:
    /tmp/disk-encryption.key: pass-one
    /tmp/data.key: pass-two
`;

// The stand-in: records, answers like nixos-anywhere (### phase ### lines), waits for the test.
const STAND_IN = `#!/bin/bash
# Test stand-in for nixos-anywhere (tools/install/install_test.ts).
set -eu
PATH=/usr/bin:/bin
rec="$RECORD_DIR"
echo "$PPID" > "$rec/ppid"
echo "$$" > "$rec/pid"
printf '%s\\n' "$@" > "$rec/argv"
extra=""
while [ $# -gt 0 ]; do
  case "$1" in
    --extra-files) extra="$2"; shift ;;
    --disk-encryption-keys)
      n=$(( $(ls "$rec" | grep -c '^disk-key-' || true) + 1 ))
      printf '%s %s %s %s\\n' "$2" "$3" "$(stat -c %a "$3")" "$(stat -c %a "$(dirname "$3")")" >> "$rec/disk-keys"
      cp "$3" "$rec/disk-key-$n"
      shift 2 ;;
  esac
  shift
done
stat -c '%a %n' "$extra" "$extra/etc" "$extra/etc/ssh" "$extra/etc/ssh/ssh_host_ed25519_key" "$extra/etc/ssh/ssh_host_ed25519_key.pub" | sed "s|$extra|.|" > "$rec/modes"
find "$extra" | sed "s|$extra|.|" | sort > "$rec/tree"
echo "$extra" > "$rec/extra-dir"
cp -r "$extra" "$rec/extra-files"
case "\${MODE:-wait}" in
  noline)
    # A progress bar or a binary blob: BYTES characters and no newline, then a failure.
    echo "### Installing NixOS ###"
    head -c "$BYTES" /dev/zero | tr '\\0' x
    exit 1 ;;
  tree)
    # A silent child, as ssh running disko on the target is; it ignores SIGTERM.
    bash -c 'trap "" TERM; echo $$ > "$0/child-pid"; while :; do sleep 1; done' "$rec" &
    while [ ! -s "$rec/child-pid" ]; do sleep 0.1; done
    echo "### Installing NixOS ###"
    touch "$rec/installing"
    wait ;;
  leave-child)
    # Ends as usual, but leaves a child running in its group that ignores SIGTERM.
    bash -c 'trap "" TERM; echo $$ > "$0/child-pid"; while :; do sleep 1; done' "$rec" &
    while [ ! -s "$rec/child-pid" ]; do sleep 0.1; done ;;
esac
echo "### Uploading install SSH keys ###"
echo "### Installing NixOS ###"
touch "$rec/installing"
for _ in $(seq 1 600); do [ -e "$rec/go" ] && break; sleep 0.1; done
[ -e "$rec/go" ] || { echo "stand-in: the test never answered" >&2; exit 9; }
echo "### Rebooting ###"
exit "$(cat "$rec/go")"
`;

interface Fleet extends AsyncDisposable {
  hosts: TestHosts;
  host: TestHost;
  flake: FixtureFlake;
  bin: ProgramsBin;
  /** The host's private key as the user keeps it (0600). */
  keyPath: string;
  publicKey: string;
  adminKeyFile: string;
  rec: string;
  home: string;
  scratch: string;
  install(
    args: string[],
    options?: { stdin?: string; env?: Record<string, string>; rec?: string },
  ): Promise<{ code: number; stdout: string; stderr: string }>;
  encryptSecrets(plain: string, recipients?: string[]): Promise<void>;
}

async function tempDir(prefix: string): Promise<string> {
  return await Deno.makeTempDir({ prefix });
}

async function keygen(path: string, comment: string): Promise<string> {
  await runProgramOk(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]);
  return (await Deno.readTextFile(`${path}.pub`)).trim();
}

async function fleet(): Promise<Fleet> {
  const hosts = await startTestHosts(1, { names: [HOST] });
  const host = hosts.host(HOST);
  const keys = await tempDir("install-keys-");
  const keyPath = `${keys}/${HOST}_ed25519`;
  const publicKey = await keygen(keyPath, `root@${HOST}`);
  const adminKeyFile = `${keys}/admin.txt`;
  await runProgramOk(["age-keygen", "-o", adminKeyFile]);
  const admin = (await runProgramOk(["age-keygen", "-y", adminKeyFile])).trim();
  const flake = await createFixtureFlake([
    { name: HOST, hostPublicKey: publicKey, secrets: ["kopia-password"] },
  ]);
  const hostRecipient = sshPublicKeyToAge(publicKey);
  await flake.write({
    "configurations/nixos-configurations.nix": `{\n  ${HOST} = ./${HOST};\n}\n`,
    [`configurations/${HOST}/disko.nix`]: DISKO,
    ".sops.yaml": [
      "keys:",
      `  - &admin_test ${admin}`,
      `  - &host_${HOST} ${hostRecipient}`,
      "creation_rules:",
      `  - path_regex: ^secrets/${HOST}\\.yaml$`,
      "    key_groups:",
      "      - age:",
      "          - *admin_test",
      `          - *host_${HOST}`,
      "",
    ].join("\n"),
  });
  const rec = await tempDir("install-rec-");
  const home = await tempDir("install-home-");
  // XDG_RUNTIME_DIR as a session has it: a tmpfs of its own (the tool refuses a disk).
  const scratch = await tempDir("install-shm-");
  await runProgramOk(["mount", "-t", "tmpfs", "-o", "size=64m,mode=0700", "tmpfs", scratch]);
  const bin = await createProgramsBin();
  await Deno.writeTextFile(`${bin.dir}/nixos-anywhere`, STAND_IN);
  await Deno.chmod(`${bin.dir}/nixos-anywhere`, 0o755);

  const encryptSecrets = async (plain: string, recipients = [admin, hostRecipient]) => {
    const out = await runProgramOk([
      "sops",
      "encrypt",
      "--age",
      recipients.join(","),
      "--input-type",
      "yaml",
      "--output-type",
      "yaml",
      "/dev/stdin",
    ], { stdin: plain, cwd: keys, env: { SOPS_AGE_KEY_FILE: adminKeyFile } });
    await flake.write({ [`secrets/${HOST}.yaml`]: out });
    await flake.git("add", "-A");
    await flake.git("commit", "-q", "-m", "secrets");
  };
  await encryptSecrets(SECRETS);
  await installToolkit(flake.dir);

  return {
    hosts,
    host,
    flake,
    bin,
    keyPath,
    publicKey,
    adminKeyFile,
    rec,
    home,
    scratch,
    encryptSecrets,
    install: (args, options = {}) =>
      runTask(flake.dir, "install", [
        HOST,
        "--target",
        host.address,
        "--ssh-option",
        `IdentityFile=${hosts.clientKey}`,
        "--ssh-option",
        "IdentitiesOnly=yes",
        "--connect-timeout",
        "2",
        ...args,
      ], {
        bin,
        // A HOME of its own shows ~/.ssh is never written; Deno's cache stays where it is.
        env: {
          RECORD_DIR: options.rec ?? rec,
          HOME: home,
          XDG_RUNTIME_DIR: scratch,
          DENO_DIR: DENO_DIR,
          ...options.env,
        },
        ...(options.stdin === undefined ? {} : { stdin: options.stdin }),
      }),
    async [Symbol.asyncDispose]() {
      // A stand-in or child the tool failed to stop must not outlive the test.
      for (const name of ["pid", "child-pid"]) {
        const pid = Number(await Deno.readTextFile(`${rec}/${name}`).catch(() => ""));
        if (pid > 0) {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch {
            // ended
          }
        }
      }
      await bin[Symbol.asyncDispose]();
      await flake[Symbol.asyncDispose]();
      await hosts[Symbol.asyncDispose]();
      await runProgram(["umount", scratch]);
      for (const dir of [keys, rec, home, scratch]) {
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      }
    },
  };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** Polls `check` every 50 ms until it holds, for at most `ms`. */
async function waitFor(what: string, check: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * What nixos-anywhere and the first boot do to the machine, done to the test host while the
 * stand-in waits: the system closure copied and activated, sops-nix's decryption with the
 * installed key, and a restart of sshd with the installed host key (unless `keepOldKey`).
 */
async function serveInstall(
  f: Fleet,
  running: Promise<unknown>,
  options: { keepOldKey?: boolean; exitCode?: number; answerOnly?: boolean } = {},
) {
  let ended = false;
  running.finally(() => ended = true);
  await waitFor("the stand-in", async () => ended || await exists(`${f.rec}/installing`));
  if (ended) return;
  if (options.answerOnly || (options.exitCode !== undefined && options.exitCode !== 0)) {
    await Deno.writeTextFile(`${f.rec}/go`, String(options.exitCode ?? 0));
    return;
  }
  const toplevel = await f.flake.buildToplevel(HOST);
  await runProgramOk(["nix", "copy", "--no-check-sigs", "--to", f.host.storeUrl, toplevel], {
    env: f.hosts.nixSshEnv,
  });
  await f.host.ssh(["nix-env", "-p", "/nix/var/nix/profiles/system", "--set", toplevel]);
  await f.host.ssh(["ln", "-sfn", toplevel, "/run/current-system"]);
  const installedKey = `${f.rec}/extra-files/etc/ssh/ssh_host_ed25519_key`;
  const identity = sshPrivateKeyToAgeIdentity(await Deno.readTextFile(installedKey));
  const sops = (await runProgramOk(["sh", "-c", "command -v sops"])).trim();
  await f.host.ssh(
    `mkdir -p /run/secrets && SOPS_AGE_KEY="$(cat)" ${sops} decrypt --extract '["kopia-password"]' ${f.flake.dir}/secrets/${HOST}.yaml > /run/secrets/kopia-password`,
    { stdin: identity },
  );
  if (!options.keepOldKey) {
    await Deno.copyFile(installedKey, `${f.host.dir}/ssh_host_ed25519_key`);
    await Deno.chmod(`${f.host.dir}/ssh_host_ed25519_key`, 0o600);
  }
  await f.host.stop();
  await f.host.start();
  await Deno.writeTextFile(`${f.rec}/go`, "0");
}

/** What an install left in XDG_RUNTIME_DIR besides its per-host lock files (empty, kept). */
function scratchLeft(f: Fleet): string[] {
  return [...Deno.readDirSync(f.scratch)].map((e) => e.name).filter((name) =>
    !/^devops-install\.[^/]+\.lock$/.test(name)
  );
}

async function record(f: Fleet, name: string): Promise<string> {
  return await Deno.readTextFile(`${f.rec}/${name}`);
}

Deno.test("install checks the chain, hands nixos-anywhere the key tree and disk keys, and confirms the installed host", async () => {
  await using f = await fleet();
  const installerKey = f.host.hostPublicKey;
  const running = f.install(["--host-key", f.keyPath, "--wait", "30", "--json"], { stdin: "y\n" });
  const [result] = await Promise.all([running, serveInstall(f, running)]);
  assertEquals(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as InstallReport;
  assertEquals(report.result, "installed");
  assertEquals(report.toplevel, await f.flake.buildToplevel(HOST));
  assertEquals(report.secrets, ["/run/secrets/kopia-password"]);
  assertEquals(report.hostKey?.fingerprint, fingerprint(f.publicKey));
  assertEquals(report.installerFingerprint, fingerprint(installerKey));
  assertEquals(report.diskKeys, ["/tmp/disk-encryption.key", "/tmp/data.key"]);
  assertStringIncludes(result.stderr, `answers with ${fingerprint(installerKey)}`);
  assertStringIncludes(result.stderr, "==> Installing NixOS");
  assertStringIncludes(result.stderr, "==> Rebooting");

  // What nixos-anywhere was given, checked by the stand-in while it ran.
  const argv = (await record(f, "argv")).trimEnd().split("\n");
  const extra = (await record(f, "extra-dir")).trim();
  assertEquals(argv.slice(0, 10), [
    "--flake",
    `.#${HOST}`,
    "--target-host",
    `root@${f.host.address}`,
    "--ssh-port",
    "22",
    "--extra-files",
    extra,
    "--disk-encryption-keys",
    "/tmp/disk-encryption.key",
  ]);
  assertEquals(
    await record(f, "modes"),
    [
      "700 .",
      "755 ./etc",
      "755 ./etc/ssh",
      "600 ./etc/ssh/ssh_host_ed25519_key",
      "644 ./etc/ssh/ssh_host_ed25519_key.pub",
      "",
    ].join("\n"),
  );
  assertEquals(
    await record(f, "tree"),
    [
      ".",
      "./etc",
      "./etc/ssh",
      "./etc/ssh/ssh_host_ed25519_key",
      "./etc/ssh/ssh_host_ed25519_key.pub",
      "",
    ].join("\n"),
  );
  assertEquals(
    await Deno.readTextFile(`${f.rec}/extra-files/etc/ssh/ssh_host_ed25519_key`),
    await Deno.readTextFile(f.keyPath),
  );
  assertEquals(
    (await Deno.readTextFile(`${f.rec}/extra-files/etc/ssh/ssh_host_ed25519_key.pub`)).trim(),
    f.publicKey,
  );
  const diskKeys = (await record(f, "disk-keys")).trimEnd().split("\n").map((l) => l.split(" "));
  assertEquals(diskKeys.map(([path, , mode, dirMode]) => [path, mode, dirMode]), [
    ["/tmp/disk-encryption.key", "600", "700"],
    ["/tmp/data.key", "600", "700"],
  ]);
  assert(
    diskKeys.every(([, file]) => file!.startsWith(`${f.scratch}/devops-install-`)),
    "in XDG_RUNTIME_DIR",
  );
  assertEquals(await record(f, "disk-key-1"), "pass-one");
  assertEquals(await record(f, "disk-key-2"), "pass-two");

  // Afterwards: the scratch folder is gone, known_hosts never written, the repository untouched.
  assert(!(await exists(extra.replace(/\/extra-files$/, ""))), "scratch folder removed");
  assert(!(await exists(`${f.home}/.ssh`)), "~/.ssh untouched");
  assertEquals(await f.flake.git("status", "--porcelain", "--", "configurations", "secrets"), "");
});

Deno.test("install --new-host-key makes a key outside the repository, re-keys the secrets through the secrets tool and stages them", async () => {
  await using f = await fleet();
  const keyPath = `${f.home}/keys/${HOST}_new`;
  const env = { SOPS_AGE_KEY_FILE: f.adminKeyFile };
  const running = runTask(f.flake.dir, "install", [
    HOST,
    "--target",
    f.host.address,
    "--new-host-key",
    keyPath,
    "--phases",
    "kexec,disko,install",
    "--json",
  ], {
    bin: f.bin,
    env: { ...env, RECORD_DIR: f.rec, HOME: f.home, XDG_RUNTIME_DIR: f.scratch, DENO_DIR },
    stdin: "y\ny\n",
  });
  const [result] = await Promise.all([running, serveInstall(f, running, { answerOnly: true })]);
  assertEquals(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as InstallReport;
  assertEquals(report.result, "installed-not-rebooted");
  assertEquals(report.hostKey?.created, true);
  assertEquals(report.hostKey?.path, keyPath);
  assertEquals(((await Deno.stat(keyPath)).mode ?? 0) & 0o777, 0o600);
  const newPublic = (await Deno.readTextFile(`${keyPath}.pub`)).trim();
  assert(newPublic !== f.publicKey);
  assertEquals(
    (await Deno.readTextFile(f.flake.path(`configurations/${HOST}/ssh_host_ed25519_key.pub`)))
      .trim(),
    newPublic,
  );
  assertEquals(
    await Deno.readTextFile(`${f.rec}/extra-files/etc/ssh/ssh_host_ed25519_key`),
    await Deno.readTextFile(keyPath),
  );
  const staged = (await f.flake.git("diff", "--cached", "--name-only")).trim().split("\n");
  assert(staged.includes(`configurations/${HOST}/ssh_host_ed25519_key.pub`), staged.join(","));
  assert(staged.includes(`secrets/${HOST}.yaml`), staged.join(","));
  assertStringIncludes(result.stderr, `new private host key kept at ${keyPath}`);

  // Run again: the key is there and is never overwritten.
  const again = await runTask(f.flake.dir, "install", [
    HOST,
    "--target",
    f.host.address,
    "--new-host-key",
    keyPath,
  ], {
    bin: f.bin,
    env: { ...env, HOME: f.home, DENO_DIR },
  });
  assertEquals(again.code, 1);
  assertStringIncludes(again.stderr, "a file is there (never overwritten); use --host-key");
});

Deno.test("install --new-host-key whose re-keying failed can be finished: the next run names the command, and it works", async () => {
  await using f = await fleet();
  const keyPath = `${f.home}/keys/${HOST}_new`;
  const run = (args: string[], env: Record<string, string> = {}) =>
    runTask(f.flake.dir, "install", [HOST, "--target", f.host.address, ...args], {
      bin: f.bin,
      env: { ...env, RECORD_DIR: f.rec, HOME: f.home, XDG_RUNTIME_DIR: f.scratch, DENO_DIR },
      stdin: "y\ny\n",
    });
  // No admin age key at hand: the key is made, the re-keying fails.
  const first = await run(["--new-host-key", keyPath]);
  assertEquals(first.code, 1, first.stderr);
  assert(await exists(keyPath), "the new key is kept");
  const finish =
    `deno task secrets host replace-key ${HOST} --key-file ${keyPath}.pub, then install with --host-key ${keyPath}`;
  assertStringIncludes(first.stderr, finish);
  assert(!(await exists(`${f.rec}/argv`)));
  // The same command again never overwrites the key, and says how to finish.
  const again = await run(["--new-host-key", keyPath], { SOPS_AGE_KEY_FILE: f.adminKeyFile });
  assertEquals(again.code, 1, again.stderr);
  assertStringIncludes(again.stderr, "never overwritten");
  assertStringIncludes(again.stderr, finish);
  // Doing what it says works.
  const rekey = await runTask(f.flake.dir, "secrets", [
    "host",
    "replace-key",
    HOST,
    "--key-file",
    `${keyPath}.pub`,
    "-y",
  ], { bin: f.bin, env: { SOPS_AGE_KEY_FILE: f.adminKeyFile, HOME: f.home, DENO_DIR } });
  assertEquals(rekey.code, 0, rekey.stderr);
  const dry = await run(["--host-key", keyPath, "--dry-run"]);
  assertEquals(dry.code, 0, dry.stderr);
});

Deno.test("install --new-host-key stops before the install when staging is declined, keeping the key", async () => {
  await using f = await fleet();
  const keyPath = `${f.home}/keys/${HOST}_new`;
  const result = await runTask(f.flake.dir, "install", [
    HOST,
    "--target",
    f.host.address,
    "--new-host-key",
    keyPath,
  ], {
    bin: f.bin,
    env: {
      SOPS_AGE_KEY_FILE: f.adminKeyFile,
      RECORD_DIR: f.rec,
      HOME: f.home,
      XDG_RUNTIME_DIR: f.scratch,
      DENO_DIR,
    },
    stdin: "n\n",
  });
  assertEquals(result.code, 1);
  assertStringIncludes(result.stderr, "Stopped before the install: git add (or commit)");
  assertStringIncludes(result.stderr, `then run again with --host-key ${keyPath}`);
  assert(await exists(keyPath), "the new key is kept");
  assert(!(await exists(`${f.rec}/argv`)));
});

Deno.test("install refuses a key that is not the host's, before the target is touched", async () => {
  await using f = await fleet();
  const other = `${f.home}/other_key`;
  await keygen(other, "other");
  const result = await f.install(["--host-key", other, "--yes"]);
  assertEquals(result.code, 1);
  assertMatch(
    result.stderr,
    new RegExp(
      `error: Cannot install host "${HOST}": ".*other_key" is not its key \\(it is SHA256:.*, configurations/${HOST}/ssh_host_ed25519_key.pub is ${
        fingerprint(f.publicKey).replace(/[+/]/g, "\\$&")
      }\\)`,
    ),
  );
  assert(!(await exists(`${f.rec}/argv`)), "nixos-anywhere never ran");
});

Deno.test("install refuses when the host's key cannot decrypt its secrets, naming the fix", async () => {
  await using f = await fleet();
  const admin = (await runProgramOk(["age-keygen", "-y", f.adminKeyFile])).trim();
  await f.encryptSecrets(SECRETS, [admin]);
  const result = await f.install(["--host-key", f.keyPath, "--yes"]);
  assertEquals(result.code, 1);
  assertStringIncludes(
    result.stderr,
    `secrets/${HOST}.yaml is not encrypted for its key (${sshPublicKeyToAge(f.publicKey)})`,
  );
  assertStringIncludes(result.stderr, `deno task secrets host replace-key ${HOST}`);
  assert(!(await exists(`${f.rec}/argv`)));

  // A dry run without the private key sees it too, from the file's metadata.
  const dry = await f.install(["--dry-run"]);
  assertEquals(dry.code, 1);
  assertStringIncludes(dry.stderr, `secrets/${HOST}.yaml is not encrypted for its key`);
});

Deno.test("install refuses a host key file others can read or another user owns", async () => {
  await using f = await fleet();
  await Deno.chmod(f.keyPath, 0o644);
  const result = await f.install(["--host-key", f.keyPath, "--yes"]);
  assertEquals(result.code, 1);
  assertStringIncludes(result.stderr, "mode 0644 lets others read it; chmod 600 it");
  assert(!(await exists(`${f.rec}/argv`)));

  // Mode 0600 but another user's file: refused too.
  await Deno.chmod(f.keyPath, 0o600);
  await Deno.chown(f.keyPath, 65534, 65534);
  const foreign = await f.install(["--host-key", f.keyPath, "--yes"]);
  assertEquals(foreign.code, 1);
  assertStringIncludes(foreign.stderr, `owned by uid 65534, not by you (uid ${Deno.uid()})`);
  assert(!(await exists(`${f.rec}/argv`)));
});

Deno.test("install refuses a missing disk passphrase, naming the secret and the sops command", async () => {
  await using f = await fleet();
  await f.encryptSecrets(SECRETS.replace("    /tmp/data.key: pass-two\n", ""));
  const result = await f.install(["--host-key", f.keyPath, "--yes"]);
  assertEquals(result.code, 1);
  assertStringIncludes(
    result.stderr,
    `secrets/${HOST}.yaml has no disk passphrase ["disk-encryption-keys"]["/tmp/data.key"]`,
  );
  assert(!(await exists(`${f.rec}/argv`)));
  assertEquals(scratchLeft(f).length, 0, "no scratch left in XDG_RUNTIME_DIR");
});

Deno.test("install interrupted (SIGINT) while nixos-anywhere runs removes the disk keys and the key copy", async () => {
  await using f = await fleet();
  const running = f.install(["--host-key", f.keyPath, "--yes"]);
  let ended = false;
  running.finally(() => ended = true);
  await waitFor("the stand-in", async () => ended || await exists(`${f.rec}/installing`));
  if (ended) throw new Error(`install ended early: ${(await running).stderr}`);
  const scratch = (await record(f, "extra-dir")).trim().replace(/\/extra-files$/, "");
  const present = await exists(`${scratch}/disk-keys/1.key`);
  Deno.kill(Number((await record(f, "ppid")).trim()), "SIGINT");
  const result = await running;
  assert(present, "the disk key exists while nixos-anywhere runs");
  assertEquals(result.code, 130, result.stderr);
  assertStringIncludes(
    result.stderr,
    "error: interrupted; nixos-anywhere was stopped: it ended on SIGTERM with all its processes; the temporary secrets were removed",
  );
  assert(!(await exists(scratch)), "scratch folder removed");
  assertEquals(scratchLeft(f).length, 0);
});

/** Starts an install with `--host-key` and waits until the stand-in runs; returns its scratch. */
async function startUntilStandIn(f: Fleet) {
  const running = f.install(["--host-key", f.keyPath, "--yes"]);
  let ended = false;
  running.finally(() => ended = true);
  await waitFor("the stand-in", async () => ended || await exists(`${f.rec}/installing`));
  if (ended) throw new Error(`install ended early: ${(await running).stderr}`);
  const scratch = (await record(f, "extra-dir")).trim().replace(/\/extra-files$/, "");
  const pid = Number((await record(f, "ppid")).trim());
  return { running, scratch, pid };
}

Deno.test("install whose terminal closes (SIGHUP) while nixos-anywhere runs removes the disk keys and the key copy", async () => {
  await using f = await fleet();
  const { running, scratch, pid } = await startUntilStandIn(f);
  assert(await exists(`${scratch}/disk-keys/1.key`), "the disk key exists while it runs");
  Deno.kill(pid, "SIGHUP");
  const result = await running;
  await Deno.writeTextFile(`${f.rec}/go`, "1");
  assertEquals(result.code, 129, result.stderr);
  assert(!(await exists(scratch)), "scratch folder removed");
  assertEquals(scratchLeft(f).length, 0);
});

Deno.test("install after one killed with SIGKILL removes the passphrases and key copy it left behind", async () => {
  await using f = await fleet();
  const first = await startUntilStandIn(f);
  Deno.kill(first.pid, "SIGKILL");
  await first.running;
  await Deno.writeTextFile(`${f.rec}/go`, "1");
  assert(await exists(`${first.scratch}/disk-keys/1.key`), "SIGKILL cannot be caught");
  await Deno.remove(`${f.rec}/installing`);
  await Deno.remove(`${f.rec}/go`).catch(() => {});
  // Another host's install running meanwhile holds its folder's lock (here, this process does):
  // its folder must stay.
  const other = `${f.scratch}/devops-install-1-other`;
  await Deno.mkdir(`${other}/disk-keys`, { recursive: true, mode: 0o700 });
  await Deno.writeTextFile(`${other}/disk-keys/1.key`, "other-pass");
  using alive = await Deno.open(`${other}/.alive`, { create: true, write: true });
  await alive.lock(true);
  const second = await startUntilStandIn(f);
  assert(!(await exists(first.scratch)), "the killed install's folder is removed by the next");
  assert(await exists(`${second.scratch}/disk-keys/1.key`), "the running install's stays");
  assert(await exists(`${other}/disk-keys/1.key`), "a live install's folder stays");
  await alive.unlock();
  await Deno.remove(other, { recursive: true });
  await Deno.writeTextFile(`${f.rec}/go`, "1");
  const result = await second.running;
  assertEquals(result.code, 1, result.stderr);
  assertEquals(scratchLeft(f).length, 0);
});

Deno.test("install stops when the installer is unreachable, within its bound", async () => {
  await using f = await fleet();
  await f.host.cutOff();
  const result = await f.install(["--host-key", f.keyPath, "--yes"]);
  assertEquals(result.code, 1);
  assertStringIncludes(
    result.stderr,
    `Cannot reach the installer at ${f.host.address}:22: ssh-keyscan got no ed25519 host key within 2 s`,
  );
  assert(!(await exists(`${f.rec}/argv`)));
});

Deno.test("install stops when the user does not confirm the installer's fingerprint", async () => {
  await using f = await fleet();
  const result = await f.install(["--host-key", f.keyPath], { stdin: "n\n" });
  assertEquals(result.code, 1);
  assertStringIncludes(
    result.stderr,
    "the installer's host key was not confirmed; nothing was changed",
  );
  assert(!(await exists(`${f.rec}/argv`)));
});

Deno.test("install reports a host that answers with another key after the reboot", async () => {
  await using f = await fleet();
  const oldKey = f.host.hostPublicKey;
  const running = f.install(["--host-key", f.keyPath, "--yes", "--wait", "3"]);
  const [result] = await Promise.all([running, serveInstall(f, running, { keepOldKey: true })]);
  assertEquals(result.code, 1);
  assertStringIncludes(
    result.stderr,
    `Cannot confirm ${HOST} after the reboot: Host key mismatch for "${HOST}" at ${f.host.address}:22: expected ${
      fingerprint(f.publicKey)
    } (configurations/${HOST}/ssh_host_ed25519_key.pub), the host presented ${
      fingerprint(oldKey)
    }; if the host was reinstalled, commit its new key, else do not connect`,
  );
});

Deno.test("install passes on nixos-anywhere's failure with its phase", async () => {
  await using f = await fleet();
  const running = f.install(["--host-key", f.keyPath, "--yes"]);
  const [result] = await Promise.all([running, serveInstall(f, running, { exitCode: 3 })]);
  assertEquals(result.code, 1);
  assertStringIncludes(result.stderr, `nixos-anywhere failed with exit code 3 during "Rebooting"`);
  assert(!(await exists((await record(f, "extra-dir")).trim())), "scratch folder removed");
});

Deno.test("install --dry-run with a key checks the chain and prints every step, running nothing", async () => {
  await using f = await fleet();
  const result = await f.install([
    "--host-key",
    f.keyPath,
    "--dry-run",
    "--phases",
    "kexec,disko,install",
  ]);
  assertEquals(result.code, 0, result.stderr);
  assertStringIncludes(result.stderr, `ok: ${fingerprint(f.publicKey)}`);
  assertStringIncludes(result.stderr, "ok: 2 disk passphrase(s) found");
  assertMatch(
    result.stderr,
    /install: nixos-anywhere --flake '\.#box1' .* --extra-files '\$INSTALL_WORK\/extra-files' --disk-encryption-keys \/tmp\/disk-encryption\.key '\$INSTALL_WORK\/disk-keys\/1\.key' --disk-encryption-keys \/tmp\/data\.key '\$INSTALL_WORK\/disk-keys\/2\.key' --phases kexec,disko,install/,
  );
  assert(!result.stderr.includes("wait up to"), "no reboot phase, no wait");
  assert(!(await exists(`${f.rec}/argv`)));
  assertEquals(scratchLeft(f).length, 0);

  // The checks need no runtime folder: nothing secret is written in a dry run.
  const noRuntime = await runTask(f.flake.dir, "install", [
    HOST,
    "--target",
    f.host.address,
    "--host-key",
    f.keyPath,
    "--dry-run",
  ], {
    bin: f.bin,
    env: { RECORD_DIR: f.rec, HOME: f.home, DENO_DIR, XDG_RUNTIME_DIR: "" },
  });
  assertEquals(noRuntime.code, 0, noRuntime.stderr);
  assertStringIncludes(noRuntime.stderr, `ok: ${fingerprint(f.publicKey)}`);
});

Deno.test("install nas1 --dry-run on this repository shows the whole plan with no private key", async () => {
  // This repository's example fleet from git: a repository whose owner ran init has no nas1.
  const clone = await createExampleClone();
  const repo = clone.dir;
  try {
    const bin = await createProgramsBin();
    try {
      const result = await runTask(
        repo,
        "install",
        ["nas1", "--target", "127.0.0.1", "--dry-run"],
        { bin },
      );
      assertEquals(result.code, 0, result.stderr);
      assertStringIncludes(
        result.stderr,
        "host key: needs --host-key <file> (0600, yours) or --new-host-key",
      );
      assertStringIncludes(
        result.stderr,
        "install: nixos-anywhere --flake '.#nas1' --target-host root@127.0.0.1 --ssh-port 22 --extra-files '$INSTALL_WORK/extra-files' --disk-encryption-keys /tmp/disk-encryption.key '$INSTALL_WORK/disk-keys/1.key'",
      );
      assertStringIncludes(result.stderr, `["disk-encryption-keys"]["/tmp/disk-encryption.key"]`);
      assertStringIncludes(
        result.stderr,
        "ok so far: secrets/nas1.yaml, secrets/shared.yaml are encrypted for nas1's key (age1tfc3syxgte75yuekururxw3qnztz2kknfleduqfpc3l7thyenfwq62pvty)",
      );

      const noDisko = await runTask(repo, "install", [
        "dev-vm",
        "--target",
        "127.0.0.1",
        "--dry-run",
      ], { bin });
      assertEquals(noDisko.code, 1);
      assertStringIncludes(
        noDisko.stderr,
        `Cannot install host "dev-vm": no configurations/dev-vm/disko.nix`,
      );

      const hostile = await runTask(repo, "install", [
        "nas1",
        "--target",
        "-oProxyCommand=touch /tmp/x",
        "--dry-run",
      ], { bin });
      assertEquals(hostile.code, 2);
      assertStringIncludes(
        hostile.stderr,
        `Cannot install to --target "-oProxyCommand=touch /tmp/x": starts with '-'`,
      );

      const noKey = await runTask(repo, "install", ["nas1", "--target", "127.0.0.1"], { bin });
      assertEquals(noKey.code, 2);
      assertStringIncludes(noKey.stderr, "--host-key <file>, or --new-host-key");
    } finally {
      await bin[Symbol.asyncDispose]();
    }
  } finally {
    await clone[Symbol.asyncDispose]();
  }
});

Deno.test("install refuses hostile host names and --target values as usage errors, touching nothing", async () => {
  await using f = await fleet();
  const canary = `${f.home}/canary`;
  const cases: [string, string][] = [
    ["../x", "box1"],
    ["-x", "box1"],
    ["box 1", "box1"],
    [HOST, "-oProxyCommand=touch " + canary],
    [HOST, "root@127.0.0.1"],
    [HOST, `x;touch ${canary}`],
    [HOST, "$(touch " + canary + ")"],
    [HOST, "[::1]"],
    [HOST, "127.0.0.1 -p 2"],
    [HOST, "::"],
    [HOST, ":::::"],
    [HOST, "999.1.1.1"],
  ];
  for (const [host, target] of cases) {
    const result = await runTask(f.flake.dir, "install", [
      host,
      "--target",
      target,
      "--host-key",
      f.keyPath,
      "--yes",
    ], {
      bin: f.bin,
      env: { RECORD_DIR: f.rec, HOME: f.home, XDG_RUNTIME_DIR: f.scratch, DENO_DIR },
    });
    assertEquals(result.code, 2, `${host} ${target}: ${result.stderr}`);
    assertEquals(result.stderr.trim().split("\n").length, 1, result.stderr);
  }
  const badOption = await f.install(["--host-key", f.keyPath, "--ssh-option", "-oProxyCommand=x"]);
  assertEquals(badOption.code, 2, badOption.stderr);
  const badPort = await f.install(["--host-key", f.keyPath, "--port", "70000"]);
  assertEquals(badPort.code, 2, badPort.stderr);
  assertStringIncludes(badPort.stderr, "--port must be a port number (1 to 65535)");
  assert(!(await exists(canary)));
  assert(!(await exists(`${f.rec}/argv`)));
  assertEquals(scratchLeft(f).length, 0);
});

Deno.test("install refuses a host key that is a FIFO, a directory or a huge file, without hanging", async () => {
  await using f = await fleet();
  const fifo = `${f.home}/fifo`;
  await runProgramOk(["mkfifo", "-m", "600", fifo]);
  const dir = `${f.home}/keydir`;
  await Deno.mkdir(dir, { mode: 0o700 });
  const huge = `${f.home}/huge`;
  await Deno.writeFile(huge, new Uint8Array(64 * 1024 * 1024).fill(0x41), { mode: 0o600 });
  const link = `${f.home}/link`;
  await Deno.symlink(fifo, link);
  for (const key of [fifo, dir, huge, link]) {
    const result = await f.install(["--host-key", key, "--yes"]);
    assertEquals(result.code, 1, `${key}: ${result.stderr}`);
    assertStringIncludes(result.stderr, `Cannot use host key "${key}"`);
    assertEquals(result.stderr.trim().split("\n").length, 1, result.stderr);
  }
  assert(!(await exists(`${f.rec}/argv`)));
});

Deno.test("install against an installer port that accepts but never speaks stops within its bound", async () => {
  await using f = await fleet();
  const listener = Deno.listen({ hostname: f.host.address, port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  try {
    const port = (listener.addr as Deno.NetAddr).port;
    const result = await f.install(["--host-key", f.keyPath, "--yes", "--port", String(port)]);
    assertEquals(result.code, 1, result.stderr);
    assertStringIncludes(result.stderr, "Cannot reach the installer");
    assert(!(await exists(`${f.rec}/argv`)));
    assertEquals(scratchLeft(f).length, 0);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const conn of held) conn.close();
  }
});

Deno.test("install never prints a passphrase or the private key, even with --verbose and --json", async () => {
  await using f = await fleet();
  const running = f.install(["--host-key", f.keyPath, "--wait", "30", "--verbose", "--json"], {
    stdin: "y\n",
  });
  const [result] = await Promise.all([running, serveInstall(f, running)]);
  assertEquals(result.code, 0, result.stderr);
  const output = result.stdout + result.stderr;
  const identity = sshPrivateKeyToAgeIdentity(await Deno.readTextFile(f.keyPath));
  const privateBody = (await Deno.readTextFile(f.keyPath)).split("\n")[1]!;
  for (const secret of ["pass-one", "pass-two", "s3cret-kopia", identity, privateBody]) {
    assert(!output.includes(secret), `printed a secret: ${secret.slice(0, 12)}…`);
  }
});

Deno.test("install refuses a host whose secrets or public key git does not track (the flake cannot see them)", async () => {
  await using f = await fleet();
  await f.flake.git("rm", "-q", "--cached", `secrets/${HOST}.yaml`);
  await f.flake.git("commit", "-q", "-m", "untrack");
  const result = await f.install(["--host-key", f.keyPath, "--dry-run"]);
  assertEquals(result.code, 1, result.stderr);
  assertStringIncludes(
    result.stderr,
    `error: Cannot install host "${HOST}": git does not track secrets/${HOST}.yaml, so the flake cannot see it; git add it`,
  );
  const withoutKey = await f.install(["--dry-run"]);
  assertEquals(withoutKey.code, 1, withoutKey.stderr);
  assertStringIncludes(withoutKey.stderr, `git does not track secrets/${HOST}.yaml`);
  await f.flake.git("add", `secrets/${HOST}.yaml`);
  const staged = await f.install(["--host-key", f.keyPath, "--dry-run"]);
  assertEquals(staged.code, 0, staged.stderr);
});

Deno.test("install stops a nixos-anywhere that never ends at --install-timeout, removing the secrets", async () => {
  await using f = await fleet();
  const result = await f.install(["--host-key", f.keyPath, "--yes", "--install-timeout", "3"]);
  assertEquals(result.code, 1, result.stderr);
  assertStringIncludes(
    result.stderr,
    `error: nixos-anywhere did not finish within 3 s (during "Installing NixOS"), so it was stopped: it ended on SIGTERM with all its processes`,
  );
  assert(await exists(`${f.rec}/installing`), "the stand-in ran");
  assertEquals(scratchLeft(f).length, 0, "scratch removed");
});

Deno.test("install never makes its passphrase folder in the repository, whatever XDG_RUNTIME_DIR says", async () => {
  await using f = await fleet();
  await Deno.mkdir(f.flake.path("run"));
  for (const runtime of [".", f.flake.path("run")]) {
    const result = await runTask(f.flake.dir, "install", [
      HOST,
      "--target",
      f.host.address,
      "--host-key",
      f.keyPath,
      "--yes",
      "--install-timeout",
      "2",
    ], {
      bin: f.bin,
      env: { RECORD_DIR: f.rec, HOME: f.home, XDG_RUNTIME_DIR: runtime, DENO_DIR },
    });
    assertEquals(result.code, 1, result.stderr);
    assertStringIncludes(result.stderr, "Cannot make a private folder on tmpfs");
    assert(!(await exists(`${f.rec}/argv`)), "nixos-anywhere never ran");
  }
  assertEquals([...Deno.readDirSync(f.flake.path("run"))].length, 0);
  assert(![...Deno.readDirSync(f.flake.dir)].some((e) => e.name.startsWith("devops-install-")));
});

Deno.test("install of a host with a key but no secrets file names a secrets command that works", async () => {
  await using f = await fleet();
  await f.flake.git("rm", "-q", `secrets/${HOST}.yaml`);
  await f.flake.git("commit", "-q", "-m", "no secrets");
  const result = await f.install(["--host-key", f.keyPath, "--dry-run"]);
  assertEquals(result.code, 1, result.stderr);
  const command = result.stderr.match(/run deno task (secrets host [^;\n]*?)(?:,|;|\n|$)/)?.[1];
  assert(command !== undefined, result.stderr);
  const args = command.split(" ");
  const fixed = await runTask(f.flake.dir, "secrets", [...args.slice(1), "-y"], {
    bin: f.bin,
    env: { SOPS_AGE_KEY_FILE: f.adminKeyFile, HOME: f.home, DENO_DIR },
  });
  assertEquals(fixed.code, 0, `${command}: ${fixed.stderr}`);
  assert(await exists(f.flake.path(`secrets/${HOST}.yaml`)));
});

Deno.test("install --new-host-key stages the re-keyed files only, never a stray file in secrets/", async () => {
  await using f = await fleet();
  const keyPath = `${f.home}/keys/${HOST}_new`;
  await Deno.writeTextFile(f.flake.path("secrets/box1.decrypted.yaml"), "kopia-password: plain\n");
  const result = await runTask(f.flake.dir, "install", [
    HOST,
    "--target",
    f.host.address,
    "--new-host-key",
    keyPath,
  ], {
    bin: f.bin,
    env: {
      SOPS_AGE_KEY_FILE: f.adminKeyFile,
      RECORD_DIR: f.rec,
      HOME: f.home,
      XDG_RUNTIME_DIR: f.scratch,
      DENO_DIR,
    },
    stdin: "y\nn\n",
  });
  assertEquals(result.code, 1, result.stderr);
  assertStringIncludes(result.stderr, "the installer's host key was not confirmed");
  const staged = (await f.flake.git("diff", "--cached", "--name-only")).trim().split("\n");
  assert(staged.includes(`secrets/${HOST}.yaml`), staged.join(","));
  assert(staged.includes(`configurations/${HOST}/ssh_host_ed25519_key.pub`), staged.join(","));
  assert(!staged.includes("secrets/box1.decrypted.yaml"), staged.join(","));
});

Deno.test("a second install of the same host while one runs is refused before it touches anything", async () => {
  await using f = await fleet();
  const first = await startUntilStandIn(f);
  await Deno.remove(`${f.rec}/installing`);
  const second = await f.install(["--host-key", f.keyPath, "--yes", "--install-timeout", "2"]);
  assertEquals(second.code, 1, second.stderr);
  assertStringIncludes(
    second.stderr,
    `error: Cannot install host "${HOST}": another install of it is running; wait for it to end`,
  );
  assert(!(await exists(`${f.rec}/installing`)), "the second never reached nixos-anywhere");
  assert(await exists(`${first.scratch}/disk-keys/1.key`), "the first install's folder stays");
  await Deno.writeTextFile(`${f.rec}/go`, "1");
  assertEquals((await first.running).code, 1);
  assertEquals(scratchLeft(f).length, 0);
});

Deno.test("install --new-host-key never makes the private key inside the repository, whatever XDG_DATA_HOME or a symlink says", async () => {
  await using f = await fleet();
  const link = `${f.home}/repo-link`;
  await Deno.symlink(f.flake.dir, link);
  const cases: [string[], Record<string, string>][] = [
    [["--new-host-key"], { XDG_DATA_HOME: "." }],
    [["--new-host-key"], { XDG_DATA_HOME: link }],
    [["--new-host-key", `${link}/keys/${HOST}`], {}],
    // A dangling link: ssh-keygen would create the file it points to.
    [["--new-host-key", `${f.home}/dangling`], {}],
  ];
  await Deno.symlink(f.flake.path(`leak-${HOST}`), `${f.home}/dangling`);
  for (const [args, env] of cases) {
    const result = await runTask(f.flake.dir, "install", [
      HOST,
      "--target",
      f.host.address,
      ...args,
    ], {
      bin: f.bin,
      env: {
        ...env,
        SOPS_AGE_KEY_FILE: f.adminKeyFile,
        RECORD_DIR: f.rec,
        HOME: f.home,
        XDG_RUNTIME_DIR: f.scratch,
        DENO_DIR,
      },
      stdin: "n\n",
    });
    const inRepo = (await runProgramOk([
      "find",
      f.flake.dir,
      "-name",
      `*${HOST}*`,
      "-newer",
      f.flake.path("flake.nix"),
    ]))
      .split("\n").filter((p) =>
        p !== "" && !p.includes("/secrets/") && !p.includes("/configurations/")
      );
    assertEquals(inRepo, [], `${args.join(" ")} ${JSON.stringify(env)}: ${result.stderr}`);
    assert(
      !(await exists(f.flake.path("devops-at-home"))) && !(await exists(f.flake.path("keys"))),
      `${args.join(" ")} ${JSON.stringify(env)}: ${result.stderr}`,
    );
  }
});

Deno.test("install checks and sends every key file disko reads: LUKS additionalKeyFiles and a ZFS keylocation file", async () => {
  await using f = await fleet();
  // disko's own ZFS example reads its key from keylocation; luksAddKey reads additionalKeyFiles.
  await f.flake.write({
    [`configurations/${HOST}/disko.nix`]: `{
  disko.devices = {
    disk.a.content.partitions.luks.content = {
      type = "luks"; passwordFile = "/tmp/disk-encryption.key";
      additionalKeyFiles = [ "/tmp/additional.key" ];
    };
    zpool.zroot = {
      type = "zpool";
      rootFsOptions = { encryption = "aes-256-gcm"; keyformat = "passphrase"; keylocation = "file:///tmp/secret.key"; };
      datasets.home.options.keylocation = "prompt";
    };
  };
}
`,
  });
  await f.encryptSecrets("disk-encryption-keys:\n    /tmp/disk-encryption.key: pass-one\n");
  const dry = await f.install(["--host-key", f.keyPath, "--dry-run"]);
  assertEquals(dry.code, 1, dry.stderr);
  assertStringIncludes(
    dry.stderr,
    `secrets/${HOST}.yaml has no disk passphrase ["disk-encryption-keys"]["/tmp/additional.key"]`,
  );
  const refused = await f.install(["--host-key", f.keyPath, "--yes"]);
  assertEquals(refused.code, 1, refused.stderr);
  assert(!(await exists(`${f.rec}/argv`)), "nixos-anywhere never ran");

  // zfs takes a passphrase of 8 to 512 bytes: a shorter one would fail after the wipe.
  await f.encryptSecrets(
    "disk-encryption-keys:\n    /tmp/disk-encryption.key: pass-one\n    /tmp/additional.key: pass-add\n    /tmp/secret.key: short\n",
  );
  const short = await f.install(["--host-key", f.keyPath, "--dry-run"]);
  assertEquals(short.code, 1, short.stderr);
  assertStringIncludes(
    short.stderr,
    `the disk key ["disk-encryption-keys"]["/tmp/secret.key"] in secrets/${HOST}.yaml is 5 bytes, and a ZFS passphrase (keyformat = "passphrase") must be 8 to 512`,
  );
  await f.encryptSecrets(
    "disk-encryption-keys:\n    /tmp/disk-encryption.key: pass-one\n    /tmp/additional.key: pass-add\n    /tmp/secret.key: pass-zfs\n",
  );
  const running = f.install(["--host-key", f.keyPath, "--yes", "--phases", "kexec,disko,install"]);
  const [result] = await Promise.all([running, serveInstall(f, running, { answerOnly: true })]);
  assertEquals(result.code, 0, result.stderr);
  // In attribute order, each with its own value.
  const sent = await Promise.all(
    (await record(f, "disk-keys")).trimEnd().split("\n").map(async (l, i) =>
      `${l.split(" ")[0]} ${await record(f, `disk-key-${i + 1}`)}`
    ),
  );
  assertEquals(sent, [
    "/tmp/additional.key pass-add",
    "/tmp/disk-encryption.key pass-one",
    "/tmp/secret.key pass-zfs",
  ]);
});

Deno.test("install refuses a blank disk passphrase, one with a NUL or a line break, without printing it", async () => {
  await using f = await fleet();
  // As YAML writes them; disko's `echo -n "$(cat FILE)"` would set "", "pass" or "pass-one".
  const cases: [string, string][] = [
    [`"   "`, "is blank"],
    [`"\\n"`, "is blank"],
    [`"pa\\0ss"`, "holds a NUL byte"],
    [`|\n        pass-one`, "holds a line break"],
    [`"pass\\r\\nword"`, "holds a line break"],
  ];
  for (const [yaml, problem] of cases) {
    await f.encryptSecrets(
      `disk-encryption-keys:\n    /tmp/disk-encryption.key: pass-ok\n    /tmp/data.key: ${yaml}\n`,
    );
    for (const args of [["--dry-run"], ["--yes"]]) {
      const result = await f.install(["--host-key", f.keyPath, ...args]);
      assertEquals(result.code, 1, `${yaml}: ${result.stderr}`);
      assertStringIncludes(
        result.stderr,
        `error: Cannot install host "${HOST}": the disk key ["disk-encryption-keys"]["/tmp/data.key"] in secrets/${HOST}.yaml ${problem}`,
      );
      assertEquals(result.stderr.split("\n").filter((l) => l.startsWith("error:")).length, 1);
      assert(!result.stderr.includes("pass-one") && !result.stderr.includes("pa\0ss"));
    }
    assert(!(await exists(`${f.rec}/argv`)), `${yaml}: nixos-anywhere never ran`);
  }
  assertEquals(scratchLeft(f).length, 0);
});

Deno.test("install keeps and shows a bounded part of a nixos-anywhere output line that never ends", async () => {
  await using f = await fleet();
  const result = await f.install(["--host-key", f.keyPath, "--yes"], {
    env: { MODE: "noline", BYTES: "4000000" },
  });
  assertEquals(result.code, 1, result.stderr.slice(0, 2000));
  const error = result.stderr.split("\n").filter((l) => l.startsWith("error:"));
  assertEquals(error.length, 1);
  assertMatch(
    error[0]!,
    /^error: nixos-anywhere failed with exit code 1 during "Installing NixOS": x+… \(\d+ more characters left out\)$/,
  );
  assert(error[0]!.length < 3000, `error line of ${error[0]!.length} characters`);
  assert(result.stderr.length < 20_000, `stderr of ${result.stderr.length} characters`);
  const shown = result.stderr.match(/x+… \((\d+) more characters left out\)/);
  assertEquals(Number(shown?.[1]) + (shown?.[0].indexOf("…") ?? 0), 4_000_000);
});

/** Whether process `pid` runs (a zombie does not: it has ended, only its exit status is left). */
async function running(pid: number): Promise<boolean> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`).catch(() => "");
  return stat !== "" && stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
}

/** Starts an install whose stand-in leaves a child that ignores SIGTERM; waits until both run. */
async function startTree(f: Fleet, args: string[] = []) {
  const result = f.install(["--host-key", f.keyPath, "--yes", ...args], { env: { MODE: "tree" } });
  let ended = false;
  result.finally(() => ended = true);
  await waitFor("the stand-in", async () => ended || await exists(`${f.rec}/installing`));
  if (ended) throw new Error(`install ended early: ${(await result).stderr}`);
  return {
    result,
    tool: Number((await record(f, "ppid")).trim()),
    standIn: Number((await record(f, "pid")).trim()),
    child: Number((await record(f, "child-pid")).trim()),
  };
}

Deno.test("install --install-timeout stops nixos-anywhere's whole process group, with SIGKILL for what ignores SIGTERM", async () => {
  await using f = await fleet();
  const tree = await startTree(f, ["--install-timeout", "3"]);
  assert(await running(tree.child), "the child runs");
  const result = await tree.result;
  assertEquals(result.code, 1, result.stderr);
  assertStringIncludes(
    result.stderr,
    `error: nixos-anywhere did not finish within 3 s (during "Installing NixOS"), so it was stopped: it and all its processes ended on SIGKILL, 10 s after SIGTERM`,
  );
  assert(!(await running(tree.standIn)), "nixos-anywhere was stopped");
  assert(!(await running(tree.child)), "its child, which ignores SIGTERM, was stopped too");
  assertEquals(scratchLeft(f).length, 0, "secrets removed");
});

Deno.test("install stopped with SIGTERM stops nixos-anywhere's whole process group before it removes the secrets", async () => {
  await using f = await fleet();
  const tree = await startTree(f);
  const scratch = (await record(f, "extra-dir")).trim().replace(/\/extra-files$/, "");
  Deno.kill(tree.tool, "SIGTERM");
  const result = await tree.result;
  assertEquals(result.code, 143, result.stderr);
  assertStringIncludes(
    result.stderr,
    "error: interrupted; nixos-anywhere was stopped: it and all its processes ended on SIGKILL, 10 s after SIGTERM; the temporary secrets were removed",
  );
  assert(!(await running(tree.standIn)), "nixos-anywhere was stopped");
  assert(!(await running(tree.child)), "its child was stopped too");
  assert(!(await exists(scratch)), "scratch folder removed");
  assert(!result.stderr.includes("leaving process"), "one account of the stop, the interrupt's");
});

Deno.test("install after one killed with SIGKILL stops the nixos-anywhere it left running before it cleans or installs", async () => {
  await using f = await fleet();
  const first = await startUntilStandIn(f);
  const orphan = Number((await record(f, "pid")).trim());
  Deno.kill(first.pid, "SIGKILL");
  await first.running;
  assert(await running(orphan), "the killed install's nixos-anywhere runs on");
  assert(await exists(`${first.scratch}/disk-keys/1.key`), "and its key files are there");

  const rec2 = await tempDir("install-rec2-");
  try {
    const second = f.install(["--host-key", f.keyPath, "--yes"], { rec: rec2 });
    let ended = false;
    second.finally(() => ended = true);
    await waitFor("the second stand-in", async () => ended || await exists(`${rec2}/installing`));
    if (ended) throw new Error(`the second install ended early: ${(await second).stderr}`);
    // By the time the second install reaches nixos-anywhere, the first one's has ended.
    assert(!(await running(orphan)), "the orphaned nixos-anywhere was stopped first");
    assert(!(await exists(first.scratch)), "then its folder was removed");
    await Deno.writeTextFile(`${rec2}/go`, "1");
    const result = await second;
    assertEquals(result.code, 1, result.stderr);
    assertMatch(
      result.stderr,
      new RegExp(
        `stopped the nixos-anywhere \\(process group ${orphan}\\) that a killed install of ${HOST} left running: it ended on SIGTERM with all its processes`,
      ),
    );
  } finally {
    await Deno.remove(rec2, { recursive: true }).catch(() => {});
  }
});

Deno.test("install refuses an XDG_RUNTIME_DIR on a disk: no passphrase or key copy is written there", async () => {
  await using f = await fleet();
  const disk = await Deno.makeTempDir({ dir: "/var/tmp", prefix: "install-runtime-" });
  try {
    const type = (await runProgramOk(["stat", "-f", "-c", "%T", disk])).trim();
    assert(type !== "tmpfs" && type !== "ramfs", `the test needs ${disk} on a disk, not ${type}`);
    const result = await f.install(["--host-key", f.keyPath, "--yes"], {
      env: { XDG_RUNTIME_DIR: disk },
    });
    assertEquals(result.code, 1, result.stderr);
    assertStringIncludes(
      result.stderr,
      `error: Cannot make a private folder on tmpfs for the disk passphrases (${disk}: on ${type}, not tmpfs: a disk would keep what is written there`,
    );
    assertStringIncludes(result.stderr, "set XDG_RUNTIME_DIR to a tmpfs folder you own");
    assertEquals([...Deno.readDirSync(disk)].map((e) => e.name), [], "nothing written there");
    assert(!(await exists(`${f.rec}/argv`)), "nixos-anywhere never ran");
  } finally {
    await Deno.remove(disk, { recursive: true });
  }
});

Deno.test("install checks every sops file the host reads: a user file .sops.yaml grants it but not re-keyed for its key is refused", async () => {
  await using f = await fleet();
  const admin = (await runProgramOk(["age-keygen", "-y", f.adminKeyFile])).trim();
  const hostRecipient = sshPublicKeyToAge(f.publicKey);
  // sam's file on box1 (devops.userSecrets.sam), granted to box1 in .sops.yaml, but encrypted
  // without box1's key, as a file not yet re-keyed after a new host key.
  const sopsYaml = await Deno.readTextFile(f.flake.path(".sops.yaml"));
  await f.flake.write({
    ".sops.yaml": `${sopsYaml}  - path_regex: ^secrets/users/sam/${HOST}\\.yaml$
    key_groups:
      - age:
          - *admin_test
          - *host_${HOST}
`,
  });
  const encrypt = async (recipients: string[]) => {
    const out = await runProgramOk([
      "sops",
      "encrypt",
      "--age",
      recipients.join(","),
      "--input-type",
      "yaml",
      "--output-type",
      "yaml",
      "/dev/stdin",
    ], {
      stdin: "mail-app-password: s3cret-mail\n",
      cwd: f.home,
      env: { SOPS_AGE_KEY_FILE: f.adminKeyFile },
    });
    await f.flake.write({ [`secrets/users/sam/${HOST}.yaml`]: out });
    await f.flake.git("add", "-A");
    await f.flake.git("commit", "-q", "-m", "sam's secrets");
  };
  await encrypt([admin]);
  const refusal =
    `error: Cannot install host "${HOST}": secrets/users/sam/${HOST}.yaml, which it reads at first boot, is not encrypted for its key (${hostRecipient}), so sops-nix could not decrypt it; run deno task rekey`;
  for (
    const args of [["--host-key", f.keyPath, "--yes"], ["--host-key", f.keyPath, "--dry-run"], [
      "--dry-run",
    ]]
  ) {
    const result = await f.install(args);
    assertEquals(result.code, 1, `${args.join(" ")}: ${result.stderr}`);
    assertStringIncludes(result.stderr, refusal);
  }
  assert(!(await exists(`${f.rec}/argv`)), "nixos-anywhere never ran");

  await encrypt([admin, hostRecipient]);
  const dry = await f.install(["--host-key", f.keyPath, "--dry-run"]);
  assertEquals(dry.code, 0, dry.stderr);
  assertStringIncludes(
    dry.stderr,
    `ok: ${
      fingerprint(f.publicKey)
    }, age ${hostRecipient} decrypts secrets/${HOST}.yaml, secrets/users/sam/${HOST}.yaml`,
  );
  assertStringIncludes(dry.stderr, "(the files checked: every file .sops.yaml grants box1's key");
  assert(!dry.stderr.includes("s3cret-mail"));
});

Deno.test("install stops what nixos-anywhere leaves running in its group when it ends, before it removes the secrets", async () => {
  await using f = await fleet();
  const result = f.install(["--host-key", f.keyPath, "--yes"], { env: { MODE: "leave-child" } });
  await serveInstall(f, result, { exitCode: 1 });
  const ended = await result;
  const child = Number((await record(f, "child-pid")).trim());
  assertEquals(ended.code, 1, ended.stderr);
  // The child and, maybe, the `sleep 1` it runs.
  assertMatch(
    ended.stderr,
    new RegExp(
      `nixos-anywhere ended, leaving process\\(es\\) ${child}(, \\d+)? of its group: it and all its processes ended on SIGKILL, 10 s after SIGTERM`,
    ),
  );
  assertStringIncludes(ended.stderr, `nixos-anywhere failed with exit code 1 during "Rebooting"`);
  assert(!(await running(child)), "the child it left was stopped");
  assertEquals(scratchLeft(f).length, 0);
});

Deno.test("install leaves another host's orphaned nixos-anywhere and its folder alone while it runs", async () => {
  await using f = await fleet();
  // What a killed install of host "other" leaves: its folder (no live tool holds .alive) and
  // its nixos-anywhere's process group, still running.
  const orphan = new Deno.Command("sleep", { args: ["600"], detached: true }).spawn();
  try {
    const started = (await runProgramOk(["ps", "-o", "lstart=", "-p", String(orphan.pid)])).trim();
    const other = `${f.scratch}/devops-install-1-other`;
    await Deno.mkdir(`${other}/disk-keys`, { recursive: true, mode: 0o700 });
    await Deno.writeTextFile(`${other}/disk-keys/1.key`, "other-pass");
    await Deno.writeTextFile(`${other}/.alive`, "");
    await Deno.writeTextFile(
      `${other}/.group.json`,
      JSON.stringify({ host: "other", pgid: orphan.pid, started }),
    );
    const { running: install, scratch } = await startUntilStandIn(f);
    assert(await exists(`${other}/disk-keys/1.key`), "the other host's folder stays");
    assert(await running(orphan.pid), "its nixos-anywhere runs on");
    await Deno.writeTextFile(`${f.rec}/go`, "1");
    assertEquals((await install).code, 1);
    assert(!(await exists(scratch)), "this install's own folder is removed");
    assert(await exists(`${other}/disk-keys/1.key`), "the other's still stays");

    // Once that group has ended, the next install removes the folder.
    orphan.kill("SIGKILL");
    await orphan.status;
    await Deno.remove(`${f.rec}/installing`);
    await Deno.remove(`${f.rec}/go`);
    const next = await startUntilStandIn(f);
    assert(!(await exists(other)), "a dead install's folder is removed");
    await Deno.writeTextFile(`${f.rec}/go`, "1");
    await next.running;
  } finally {
    try {
      orphan.kill("SIGKILL");
    } catch {
      // ended
    }
    await orphan.status;
  }
});
