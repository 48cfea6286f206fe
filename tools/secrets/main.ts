// Manages who can read the sops secrets and keeps every file in step. Run: deno task secrets
// <rekey|admin|host|user|grant|revoke|password|access> …; `deno task rekey` is `secrets rekey`.
import { newProgram, printResult, runMain, runnerFor } from "../lib/cli.ts";
import { UsageError } from "../lib/errors.ts";
import { pathExists } from "../lib/fs.ts";
import { confirmOnTerminal } from "../lib/prompt.ts";
import { findRepoRoot, userPath } from "../lib/repo.ts";
import type { Runner } from "../lib/runner.ts";
import {
  accessTable,
  acquireLock,
  type ChangeHooks,
  type ChangeOptions,
  changeRepo,
  type CommandPlan,
  describeRecovery,
  formatAccess,
  formatSummary,
  hostKeyPath,
  JOURNAL_DIR,
  listSecretFiles,
  noteRunning,
  planAdminAdd,
  planAdminRemove,
  planGrant,
  planHostKey,
  planRekey,
  planRekeyCommand,
  type Problem,
  readRepoState,
  recover,
  type RepoState,
  type RunResult,
  sshPublicKeyToAge,
  userFileOf,
} from "../lib/sops/mod.ts";
import { registerUserCommands } from "./user_commands.ts";
import { registerPasswordCommand } from "./password.ts";

/**
 * Makes a relative SOPS_AGE_KEY_FILE absolute, from the folder the user ran the command in:
 * sops runs in work folders, where a relative path would name no file.
 */
function pinSopsKeyFile(): void {
  const keyFile = Deno.env.get("SOPS_AGE_KEY_FILE");
  if (keyFile && !keyFile.startsWith("/")) Deno.env.set("SOPS_AGE_KEY_FILE", userPath(keyFile));
}

function parseParallel(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) {
    throw new UsageError(`Invalid --parallel "${value}": expected a whole number ≥ 1`);
  }
  return n;
}

type GlobalOptions = ChangeOptions;

/** Seams for tests: where a kill-at-any-moment test stops the process. */
export type MainHooks = ChangeHooks;

/** `rekey --check`: the problems, with no keys, no lock and no changes. */
async function checkRepo(root: string, runner: Runner): Promise<Problem[]> {
  await noteRunning(root, runner);
  const state = await readRepoState(root, { purpose: "check the secrets" });
  const problems = planRekey(state, { report: [] }).problems;
  if (await pathExists(`${root}/${JOURNAL_DIR}`)) {
    problems.unshift({
      kind: "stale-config",
      subject: JOURNAL_DIR,
      message: `${JOURNAL_DIR}/: an unfinished run; run deno task rekey to finish it (or --abort)`,
    });
  }
  return problems;
}

async function readKeyLine(
  runner: Runner,
  options: { keyFile?: string; scan?: string },
): Promise<string> {
  if ((options.keyFile === undefined) === (options.scan === undefined)) {
    throw new UsageError("Give exactly one of --key-file <path> or --scan <address>");
  }
  if (options.keyFile !== undefined) {
    const text = await Deno.readTextFile(userPath(options.keyFile)).catch((error) => {
      const cause = error instanceof Deno.errors.NotFound
        ? "no such file"
        : (error as Error).message;
      throw new Error(`Cannot read host key ${options.keyFile}: ${cause}`);
    });
    try {
      sshPublicKeyToAge(text);
    } catch (error) {
      throw new Error(`Cannot use host key ${options.keyFile}: ${(error as Error).message}`);
    }
    return `${text.trim()}\n`;
  }
  const out = await runner.text({
    argv: ["ssh-keyscan", "-t", "ed25519", options.scan!],
    timeoutMs: 30_000,
  });
  const line = out.split("\n").find((l) => / ssh-ed25519 /.test(l));
  if (line === undefined) {
    throw new Error(`Cannot add host: ssh-keyscan ${options.scan} found no ed25519 key`);
  }
  return `${line.split(/\s+/).slice(1, 3).join(" ")}\n`;
}

async function confirmKey(runner: Runner, line: string, yes: boolean): Promise<void> {
  const fingerprint = await runner.text({ argv: ["ssh-keygen", "-l", "-f", "-"], stdin: line });
  runner.log(`Host key: ${fingerprint}`);
  if (yes || runner.dryRun) return;
  if (!await confirmOnTerminal("Is this the host's key (compare on its console)?")) {
    throw new Error(
      "Cannot add the host key: not confirmed (pass --yes after checking the fingerprint)",
    );
  }
}

/** The CLI; `hooks` are for tests. */
export async function main(args: string[], hooks: MainHooks = {}): Promise<number> {
  return await runMain(async () => {
    pinSopsKeyFile();
    let exitCode = 0;
    const program = newProgram(
      "secrets",
      "Manage who can read the sops secrets and keep every file in step with .sops.yaml",
    )
      .option("--no-rotate", "do not rotate data keys after removing a recipient")
      .option("--parallel <n>", "files re-keyed at once", parseParallel, 4)
      // `deno task rekey --help` is `secrets rekey --help`: show --repo, --dry-run… there too.
      .configureHelp({ showGlobalOptions: true });
    const opts = () => program.opts() as GlobalOptions;
    const root = () => findRepoRoot(Deno.cwd(), opts().repo);
    const report = (result: RunResult) => {
      printResult(opts().json, result, formatSummary(result));
    };
    const change = async (
      command: string,
      build: (state: RepoState, r: string) => CommandPlan | Promise<CommandPlan>,
    ) => {
      const r = await root();
      report(await changeRepo(r, opts(), hooks, (s) => build(s, r), { command }));
    };

    program.command("rekey")
      .description(
        "bring .sops.yaml and every file under secrets/ in step with the keys (deno task rekey)",
      )
      .option("--check", "report what is out of step and exit 1 (needs no keys, changes nothing)")
      .option("--abort", "undo an unfinished (killed) run from its journal and stop")
      .action(async (o) => {
        const r = await root();
        const runner = runnerFor(opts());
        if (o.check) {
          const problems = await checkRepo(r, runner);
          printResult(
            opts().json,
            { ok: problems.length === 0, problems },
            problems.map((p) => p.message).join("\n"),
          );
          exitCode = problems.length === 0 ? 0 : 1;
          return;
        }
        if (o.abort) {
          if (runner.dryRun) {
            throw new UsageError("--abort has no --dry-run: it only restores files");
          }
          await using _lock = await acquireLock(r, "rekey --abort");
          const recovery = await recover(r, "abort");
          const line = describeRecovery(recovery) ??
            `No unfinished run to abort: there is no ${JOURNAL_DIR}/`;
          printResult(opts().json, { recovery }, line);
          return;
        }
        await change("rekey", (state) => planRekeyCommand(state, opts()));
      });

    const admin = program.command("admin").description("admins: age keys that decrypt every file");
    admin.command("add").description("add an admin's age public key, then rekey")
      .argument("<name>").argument("<age-public-key>")
      .action(async (name, key) => {
        await change(
          `secrets admin add ${name}`,
          (state) => planAdminAdd(state, name, key, opts()),
        );
      });
    admin.command("remove").description("remove an admin, then rekey and rotate")
      .argument("<name>")
      .action(async (name) => {
        await change(
          `secrets admin remove ${name}`,
          (state) => planAdminRemove(state, name, opts()),
        );
      });
    admin.command("new-key").description(
      "generate an age key for you (mode 0600); prints the public key only",
    )
      .option(
        "--out <file>",
        "where to write it (default: $SOPS_AGE_KEY_FILE or ~/.config/sops/age/keys.txt)",
      )
      .option("--show-secret", "also print the secret key")
      .action(async (o) => {
        const out = (o.out === undefined ? undefined : userPath(o.out)) ??
          Deno.env.get("SOPS_AGE_KEY_FILE") ??
          `${Deno.env.get("HOME")}/.config/sops/age/keys.txt`;
        if (await pathExists(out)) {
          throw new Error(`Cannot write a new key to ${out}: the file exists; pass --out`);
        }
        const runner = runnerFor(opts());
        const dir = out.replace(/\/[^/]+$/, "") || "/";
        if (runner.dryRun) {
          if (!await pathExists(dir)) runner.log(`would create ${dir} (mode 0700)`);
          await runner.run({ argv: ["age-keygen", "-o", out], mutates: true });
          return;
        }
        await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
        await runner.run({ argv: ["age-keygen", "-o", out], mutates: true });
        await Deno.chmod(out, 0o600);
        const recipient = await runner.text({ argv: ["age-keygen", "-y", out] });
        console.log(recipient);
        if (o.showSecret) {
          console.log(
            (await Deno.readTextFile(out)).split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-")),
          );
        }
        runner.log(
          `Wrote ${out} (mode 0600); it decrypts nothing yet. Next, with a key that decrypts every file (an admin's): SOPS_AGE_KEY_FILE=<that key file> deno task secrets admin add <you> ${recipient}`,
        );
      });

    const host = program.command("host").description("hosts: age keys derived from SSH host keys");
    for (const replace of [false, true]) {
      const command = host.command(replace ? "replace-key" : "add")
        .description(
          replace
            ? "replace a reinstalled host's key, then rekey and rotate"
            : "add a host and its own secrets file (admins + the host), then rekey",
        )
        .argument("<name>")
        .option("--key-file <path>", "its ssh_host_ed25519_key.pub")
        .option("--scan <address>", "read the key with ssh-keyscan (check the fingerprint)")
        .option("-y, --yes", "do not ask to confirm the fingerprint");
      if (!replace) {
        command.option(
          "--restore",
          "give the new key the kept secrets/<name>.yaml of a removed host of that name (nothing else)",
        );
      }
      command
        .action(async (name, o) => {
          const restore = (o as { restore?: boolean }).restore ?? false;
          const runner = runnerFor(opts());
          const line = await readKeyLine(runner, {
            ...(o.keyFile ? { keyFile: o.keyFile } : {}),
            ...(o.scan ? { scan: o.scan } : {}),
          });
          await confirmKey(runner, line, o.yes ?? false);
          const verb = replace ? "replace-key" : "add";
          await change(`secrets host ${verb} ${name}`, async (state, r) => {
            const pubExists = await pathExists(`${r}/${hostKeyPath(name)}`).catch(() => false);
            return planHostKey(state, name, line, {
              ...opts(),
              replace,
              restore,
              fileExists: () => pubExists,
            });
          });
          if (restore) {
            // Nothing else the removed host had comes back by itself: each is granted by name.
            const r = await root();
            const kept = (await listSecretFiles(r)).filter((p) => userFileOf(p)?.host === name);
            for (const path of kept) {
              runner.log(
                `${path}: not given to the new key; \`secrets user grant ${
                  userFileOf(path)!.user
                } ${name}\` gives it`,
              );
            }
            runner.log(
              `Files ${name} was granted before (secrets grant) are not given back: grant them again by name`,
            );
          }
        });
    }

    for (const revoke of [false, true]) {
      program.command(revoke ? "revoke" : "grant")
        .description(
          revoke
            ? "stop hosts reading a file under secrets/, then rekey and rotate"
            : "let hosts read a file under secrets/ (new files are admin-only), then rekey",
        )
        .argument("<file>", "e.g. secrets/shared.yaml")
        .argument("<hosts...>")
        .action(async (file, hosts) => {
          const verb = revoke ? "revoke" : "grant";
          await change(
            `secrets ${verb} ${file} ${hosts.join(" ")}`,
            (state) => planGrant(state, file, hosts, { ...opts(), revoke }),
          );
        });
    }

    registerUserCommands(
      program.command("user").description(
        "users: people who read only their own file on the hosts they are granted",
      ),
      host,
      { change, runner: () => runnerFor(opts()), rotate: () => opts().rotate },
    );

    registerPasswordCommand(program, { change, runner: () => runnerFor(opts()) });

    program.command("access").description("table of who can decrypt which file (needs no keys)")
      .action(async () => {
        const r = await root();
        await noteRunning(r, runnerFor(opts()));
        const table = accessTable(await readRepoState(r, { purpose: "show access" }));
        printResult(opts().json, table, formatAccess(table));
      });
    await program.parseAsync(args, { from: "user" });
    return exitCode;
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
