// `deno task host new` as users run it, on a copy of this repository: the host it makes installs
// (install --dry-run with its key), passes index --check and rekey --check, and its secrets file
// decrypts with the admin key and with the new host key; bad input changes nothing; --dry-run
// changes nothing; a run killed at any point is finished by running it again, keeping edits.
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/assert.ts";
import { runProgram } from "../testing/run.ts";
import { CHECKOUT, createProgramsBin, type ProgramsBin, runTask } from "../testing/task.ts";
import { createExampleClone } from "../testing/example_clone.ts";
import type { TempRepo } from "../testing/temp_repo.ts";
import { snapshotTree } from "../testing/tree_snapshot.ts";
import { sshPrivateKeyToAgeIdentity } from "../lib/sops/age_keys.ts";

/** The example admin key this repository ships (its private half is public on purpose). */
const ADMIN_KEY = "configurations/dev-vm/EXAMPLE-admin-age-key.txt";

/** A host name the repository does not use, whoever owns it. */
async function unusedHost(repo: TempRepo, base: string): Promise<string> {
  for (let n = 1;; n++) {
    const name = `${base}${n}`;
    if (!await Deno.stat(repo.path(`configurations/${name}`)).then(() => true, () => false)) {
      return name;
    }
  }
}

async function checks(repo: TempRepo, bin: ProgramsBin): Promise<void> {
  for (const [task, args] of [["index", ["--check"]], ["rekey", ["--check"]]] as const) {
    const r = await runTask(repo.dir, task, [...args], { bin });
    assertEquals(r.code, 0, `${task} --check: ${r.stdout}${r.stderr}`);
  }
}

/** Decrypts `file` with only `identityFile`: sops's exit code and stdout. */
async function decryptAs(repo: TempRepo, file: string, identityFile: string) {
  return await runProgram(["sops", "decrypt", file], {
    cwd: repo.dir,
    env: { SOPS_AGE_KEY_FILE: identityFile, HOME: repo.dir },
  });
}

async function hostIdentity(repo: TempRepo, host: string): Promise<string> {
  const key = repo.path(`configurations/${host}/ssh_host_ed25519_key`);
  const identity = `${repo.dir}/.data/${host}.agekey`;
  await Deno.mkdir(`${repo.dir}/.data`, { recursive: true });
  await Deno.writeTextFile(
    identity,
    `${sshPrivateKeyToAgeIdentity(await Deno.readTextFile(key))}\n`,
  );
  return identity;
}

Deno.test("host new, then install --dry-run of the new host succeeds; checks pass; both keys decrypt", async () => {
  await using repo = await createExampleClone();
  await using bin = await createProgramsBin();
  const host = await unusedHost(repo, "web");
  const made = await runTask(repo.dir, "host", [
    "new",
    host,
    "--profile",
    "server",
    "--address",
    "192.0.2.60",
    "--disk",
    "/dev/nvme0n1",
    "--json",
  ], { bin });
  assertEquals(made.code, 0, made.stderr);
  const result = JSON.parse(made.stdout) as {
    host: string;
    resumed: boolean;
    steps: { kind: string; status: string; path?: string }[];
    next: string[];
  };
  assertEquals(result.host, host);
  assertEquals(result.resumed, false);
  assertEquals(
    result.steps.filter((s) => s.path?.startsWith("configurations/")).map((s) => s.status),
    ["created", "created", "created", "created", "made"],
  );
  assert(result.next.some((l) => l.startsWith(`deno task install ${host} --target`)));

  // The files: the profile imported, the disko layout, the release it is installed with.
  const dir = `configurations/${host}`;
  const defaultNix = await Deno.readTextFile(repo.path(`${dir}/default.nix`));
  assertStringIncludes(defaultNix, "modules.profile-server");
  assertStringIncludes(defaultNix, "./disko.nix");
  assertStringIncludes(defaultNix, 'system.stateVersion = "26.05";');
  assertStringIncludes(await Deno.readTextFile(repo.path(`${dir}/deploy.nix`)), '"192.0.2.60"');
  assertStringIncludes(await Deno.readTextFile(repo.path(`${dir}/disko.nix`)), '"/dev/nvme0n1"');
  assertStringIncludes(
    await Deno.readTextFile(repo.path("configurations/nixos-configurations.nix")),
    `  ${host} = ./${host};`,
  );
  assertStringIncludes(
    await Deno.readTextFile(repo.path("configurations/disko-configurations.nix")),
    `  ${host} = ./${host}/disko.nix;`,
  );
  assertEquals((await Deno.stat(repo.path(`${dir}/ssh_host_ed25519_key`))).mode! & 0o777, 0o600);

  // git ignores the private key and sees the rest; nothing is left beside them.
  const status = await repo.git("status", "--porcelain", "--untracked-files=all");
  assert(!/ssh_host_ed25519_key$/m.test(status), `the private key is ignored: ${status}`);
  assertEquals(
    status.split("\n").filter(Boolean).map((l) => l.slice(3)).sort(),
    [
      ".sops.yaml",
      "configurations/disko-configurations.nix",
      "configurations/nixos-configurations.nix",
      `${dir}/default.nix`,
      `${dir}/deploy.nix`,
      `${dir}/disko.nix`,
      `${dir}/monitoring.nix`,
      `${dir}/ssh_host_ed25519_key.pub`,
      `secrets/${host}.yaml`,
    ],
  );
  assert(!await Deno.stat(repo.path(".data/host-new")).then(() => true, () => false));
  await checks(repo, bin);

  // The admin and the host itself decrypt its file, which holds the disk passphrase.
  const identity = await hostIdentity(repo, host);
  for (const key of [repo.path(ADMIN_KEY), identity]) {
    const r = await decryptAs(repo, `secrets/${host}.yaml`, key);
    assertEquals(r.code, 0, r.stderr);
    assertMatch(r.stdout, /\/tmp\/disk-encryption\.key: [a-z2-7]{5}(-[a-z2-7]{5}){5}\n/);
  }

  // README's next steps: git add, then the install's dry run with the key it made.
  await repo.git("add", "-A");
  const install = await runTask(repo.dir, "install", [
    host,
    "--target",
    "192.0.2.61",
    "--host-key",
    repo.path(`${dir}/ssh_host_ed25519_key`),
    "--dry-run",
  ], { bin });
  assertEquals(install.code, 0, install.stderr);
  assertStringIncludes(install.stderr, "ok: 1 disk passphrase(s) found");
  assertStringIncludes(install.stderr, `nixos-anywhere --flake '.#${host}'`);

  // Run again: the name is taken now.
  const again = await runTask(repo.dir, "host", ["new", host, "--profile", "server"], { bin });
  assertEquals(again.code, 1);
  assertStringIncludes(again.stderr, `Cannot make host "${host}": the name is taken`);
});

Deno.test("host new takes the key a person made in configurations/<name>/ (README's ssh-keygen)", async () => {
  await using repo = await createExampleClone();
  await using bin = await createProgramsBin();
  const host = await unusedHost(repo, "box");
  const key = repo.path(`configurations/${host}/ssh_host_ed25519_key`);
  await Deno.mkdir(repo.path(`configurations/${host}`));
  await runProgram(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key]);
  const before = await Deno.readTextFile(`${key}.pub`);
  const made = await runTask(repo.dir, "host", ["new", host, "--profile", "devhost"], { bin });
  assertEquals(made.code, 0, made.stderr);
  assertStringIncludes(made.stdout, `configurations/${host}/ssh_host_ed25519_key: kept`);
  assertEquals(await Deno.readTextFile(`${key}.pub`), before);
  const r = await decryptAs(repo, `secrets/${host}.yaml`, await hostIdentity(repo, host));
  assertEquals(r.code, 0, r.stderr);
  await checks(repo, bin);
});

Deno.test("host new refuses bad input in one line and changes nothing", async () => {
  await using repo = await createExampleClone();
  await using bin = await createProgramsBin();
  const host = await unusedHost(repo, "web");
  const cases: [string[], number, string][] = [
    [
      ["new", "Web_1", "--profile", "server"],
      2,
      `Cannot make host "Web_1": "Web_1" is not a valid host name`,
    ],
    [["new", "-x", "--profile", "server"], 2, "unknown option '-x'"],
    [
      ["new", "nas1", "--profile", "server"],
      1,
      `Cannot make host "nas1": the name is taken (it is in configurations/nixos-configurations.nix)`,
    ],
    [
      ["new", host, "--profile", "laptop"],
      2,
      `unknown profile "laptop"; use one of server, workstation, devhost`,
    ],
    [["new", host], 2, "give --profile <server|workstation|devhost>"],
    [
      ["new", host, "--profile", "server", "--address", "-oProxyCommand=x"],
      2,
      `invalid --address "-oProxyCommand=x": starts with '-'`,
    ],
    [["new", host, "--profile", "server", "--address", "999.1.1.1"], 2, "999 is above 255"],
    [
      ["new", host, "--profile", "server", "--address", "root@192.0.2.1"],
      2,
      `invalid --address "root@192.0.2.1"`,
    ],
    [
      ["new", host, "--profile", "server", "--disk", "sda"],
      2,
      `invalid --disk "sda": expected a device path under /dev/`,
    ],
    [
      ["new", host, "--profile", "server", "--disk", "/dev/disk/../../etc/passwd"],
      2,
      "'..' is not allowed",
    ],
  ];
  // A file someone keeps under secrets/ for that name: taken too.
  await repo.write({ [`secrets/${host}x.yaml`]: "kept: true\n" });
  cases.push([["new", `${host}x`, "--profile", "server"], 1, `secrets/${host}x.yaml exists`]);
  const before = await snapshotTree(repo.dir);
  for (const [args, code, message] of cases) {
    const r = await runTask(repo.dir, "host", args, { bin });
    assertEquals(r.code, code, `${args.join(" ")}: ${r.stderr}`);
    assertStringIncludes(r.stderr, message);
    assertEquals(r.stderr.trim().split("\n").length, 1, `one line: ${r.stderr}`);
    assertEquals(await snapshotTree(repo.dir), before, `${args.join(" ")} changed nothing`);
  }
});

Deno.test("host new --dry-run prints its steps and changes nothing", async () => {
  await using repo = await createExampleClone();
  await using bin = await createProgramsBin();
  const host = await unusedHost(repo, "web");
  const before = await snapshotTree(repo.dir);
  const r = await runTask(repo.dir, "host", [
    "new",
    host,
    "--profile",
    "workstation",
    "--disk",
    "/dev/sda",
    "--dry-run",
  ], { bin });
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stderr, `would 2. create configurations/${host}/default.nix`);
  assertStringIncludes(r.stderr, `ssh-keygen -t ed25519 -N '' -C root@${host}`);
  assertStringIncludes(r.stderr, "would 8. regenerate the index files");
  assertStringIncludes(r.stdout, "nothing was changed");
  assertStringIncludes(r.stdout, `deno task secrets password admin --host ${host}`);
  assertEquals(await snapshotTree(repo.dir), before);
  assertEquals(await repo.git("status", "--porcelain"), "");
});

Deno.test("host new killed at any point (SIGKILL) and run again finishes, keeping a later edit", async () => {
  const args = (host: string) => ["new", host, "--profile", "server", "--disk", "/dev/sda"];
  for (let at = 1; at < 60; at++) {
    await using repo = await createExampleClone();
    await using bin = await createProgramsBin();
    const host = await unusedHost(repo, "web");
    const killed = await runProgram([
      `${bin.dir}/deno`,
      "run",
      "-A",
      `${CHECKOUT}/tools/host/_kill_at.ts`,
      String(at),
      ...args(host),
    ], { cwd: repo.dir, env: { PATH: bin.dir, NO_COLOR: "1", INIT_CWD: repo.dir } });
    if (killed.code !== 137) {
      assertEquals(killed.code, 0, `not killed at ${at}: ${killed.stderr}`);
      assert(at > 8, `the run had a kill point per step (${at})`);
      return;
    }
    // Someone edits a file the killed run made before it is run again: the edit stays.
    const defaultNix = repo.path(`configurations/${host}/default.nix`);
    const edited = await Deno.readTextFile(defaultNix).then(
      (text) => text.replace("hardware.enableRedistributableFirmware = true;", "# edited"),
      () => undefined,
    );
    if (edited !== undefined) await Deno.writeTextFile(defaultNix, edited);

    // Another request for that name is refused while the first is unfinished.
    if (await Deno.stat(repo.path(`.data/host-new/${host}.json`)).then(() => true, () => false)) {
      const other = await runTask(repo.dir, "host", ["new", host, "--profile", "devhost"], { bin });
      assertEquals(other.code, 1, other.stderr);
      assertStringIncludes(
        other.stderr,
        `an unfinished \`host new ${host} --profile server --disk /dev/sda\``,
      );
    }

    const unfinished = await Deno.stat(repo.path(`.data/host-new/${host}.json`)).then(
      () => true,
      () => false,
    );
    const rerun = await runTask(repo.dir, "host", args(host), { bin });
    if (!unfinished) {
      // Killed after its last step: the host is made, and the name is taken now.
      assertEquals(rerun.code, 1, `killed at ${at} when done: ${rerun.stderr}`);
      assertStringIncludes(rerun.stderr, "the name is taken");
    } else assertEquals(rerun.code, 0, `killed at ${at}, run again: ${rerun.stderr}`);
    if (edited !== undefined && unfinished) {
      assertEquals(await Deno.readTextFile(defaultNix), edited, `killed at ${at}: edit kept`);
      assertStringIncludes(rerun.stderr, `kept configurations/${host}/default.nix`);
    }
    await checks(repo, bin);
    const r = await decryptAs(repo, `secrets/${host}.yaml`, await hostIdentity(repo, host));
    assertEquals(r.code, 0, `killed at ${at}: the host decrypts its file: ${r.stderr}`);
    assertStringIncludes(r.stdout, "disk-encryption-keys");
    const status = await repo.git("status", "--porcelain", "--untracked-files=all");
    assert(!/\.tmp$|keygen|host-new/m.test(status), `killed at ${at}: leftovers: ${status}`);
  }
  throw new Error("the run was killed at 60 points: the hook never stopped");
});
