// Test fixtures for init: a fresh clone of this repository as its users get it (the example
// keys, admin, user and hosts in place, with the history), and every private key that history
// ever held, as age identities.
import { runProgram, runProgramOk } from "../testing/run.ts";
import { createTempRepo, type TempRepo } from "../testing/temp_repo.ts";
import { CHECKOUT, installToolkit } from "../testing/task.ts";
import { sshPrivateKeyToAgeIdentity } from "../lib/sops/mod.ts";

/** The example admin key a fresh clone holds. */
export const EXAMPLE_ADMIN_KEY_FILE = "configurations/dev-vm/EXAMPLE-admin-age-key.txt";

/** The programs init runs, and those the tests run beside it. */
export const INIT_PROGRAMS = ["sops", "age", "age-keygen", "ssh-keygen", "git"] as const;

/**
 * The newest commit of this checkout that still has the example admin key: HEAD, or in a
 * repository whose owner ran init already, the commit before init deleted it.
 */
async function exampleCommit(): Promise<string> {
  const git = (...args: string[]) => runProgram(["git", ...args], { cwd: CHECKOUT });
  if ((await git("cat-file", "-e", `HEAD:${EXAMPLE_ADMIN_KEY_FILE}`)).code === 0) {
    return (await git("rev-parse", "HEAD")).stdout.trim();
  }
  const deleted = (await git(
    "log",
    "-1",
    "--format=%H",
    "--diff-filter=D",
    "HEAD",
    "--",
    EXAMPLE_ADMIN_KEY_FILE,
  )).stdout.trim();
  if (deleted === "") {
    throw new Error(`no commit of this checkout has ${EXAMPLE_ADMIN_KEY_FILE}`);
  }
  return `${deleted}^`;
}

/**
 * A clone of this repository at its example state (its whole history fetched), with this
 * checkout's toolkit (deno.json, deno.lock, tools/) committed on top, as a new user's clone.
 */
export async function createFreshClone(): Promise<TempRepo> {
  const base = await exampleCommit();
  const repo = await createTempRepo({}, { commit: false });
  try {
    await repo.git("fetch", "-q", CHECKOUT, "HEAD");
    const sha = (await runProgramOk(["git", "rev-parse", base], { cwd: CHECKOUT })).trim();
    await repo.git("checkout", "-q", "-B", "main", sha);
    await installToolkit(repo.dir);
    await repo.git("add", "-A");
    await repo.git("commit", "-q", "--allow-empty", "-m", "this checkout's toolkit");
  } catch (error) {
    await repo[Symbol.asyncDispose]();
    throw error;
  }
  return repo;
}

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
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(blobs.join("\n") + "\n"));
  await writer.close();
  const out = await child.output();
  // Each object: "<sha> blob <size>\n<bytes>\n"; keys are ASCII, so a latin1 view keeps offsets.
  const text = new TextDecoder("latin1").decode(out.stdout);
  return [...new Set(identitiesIn(text))];
}
