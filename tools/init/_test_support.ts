// Test fixtures for init: a fresh clone of this repository as its users get it (the example
// keys, admin, user and hosts in place, with the history), and every private key that history
// ever held, as age identities.
import YAML from "yaml";
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { runProgram, runProgramOk } from "../testing/run.ts";
import type { TempRepo } from "../testing/temp_repo.ts";
import { type ProgramsBin, runTask } from "../testing/task.ts";
import {
  createExampleClone as createFreshClone,
  EXAMPLE_ADMIN_KEY_FILE,
} from "../testing/example_clone.ts";
import { sshPrivateKeyToAgeIdentity } from "../lib/sops/mod.ts";

export { createFreshClone };

export { EXAMPLE_ADMIN_KEY_FILE };

/** The programs init runs, and those the tests run beside it. */
export const INIT_PROGRAMS = ["sops", "age", "age-keygen", "ssh-keygen", "git"] as const;

const AGE_SECRET = /AGE-SECRET-KEY-1[0-9A-Z]{58}/g;
const OPENSSH_PRIVATE =
  /-----BEGIN OPENSSH PRIVATE KEY-----[\s\S]*?-----END OPENSSH PRIVATE KEY-----/g;

/** Every private key in `text` as an age identity (ed25519 SSH keys converted, others skipped). */
export function identitiesIn(text: string): string[] {
  const found = [...text.matchAll(AGE_SECRET)].map((m) => m[0]);
  // Keys inside source code have their newlines escaped.
  for (const block of [...text.replaceAll("\\n", "\n").matchAll(OPENSSH_PRIVATE)]) {
    try {
      found.push(sshPrivateKeyToAgeIdentity(block[0]));
    } catch {
      // Not an unencrypted ed25519 key: sops-nix could not use it either.
    }
  }
  return found;
}

/** Every private key any commit of `repo` ever held (every blob git has), as age identities. */
export async function committedIdentities(repo: TempRepo): Promise<string[]> {
  const listed = await repo.git(
    "cat-file",
    "--batch-all-objects",
    "--batch-check=%(objectname) %(objecttype)",
  );
  const blobs = listed.split("\n").filter((l) => l.endsWith(" blob")).map((l) => l.split(" ")[0]!);
  const child = new Deno.Command("git", {
    args: ["cat-file", "--batch"],
    cwd: repo.dir,
    stdin: "piped",
    stdout: "piped",
  }).spawn();
  // Read while writing: a history larger than the pipe's buffer would otherwise deadlock
  // (git blocks writing its output while the test still writes the object names).
  const output = child.output();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(blobs.join("\n") + "\n"));
  await writer.close();
  const out = await output;
  // Each object: "<sha> blob <size>\n<bytes>\n"; keys are ASCII, so a latin1 view keeps offsets.
  const text = new TextDecoder("latin1").decode(out.stdout);
  return [...new Set(identitiesIn(text))];
}

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

/** True when `path` exists. */
export async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}
