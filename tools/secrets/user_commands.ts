// The `secrets user …` commands and `secrets host remove`: people who are not admins, each
// reading only their own file on the hosts they were granted (see tools/lib/sops/users.ts).
import type { Command } from "@commander-js/extra-typings";
import { UsageError } from "../lib/errors.ts";
import { HOST_NAME_RULE, isHostName } from "../lib/host_name.ts";
import { askToType, confirmOnTerminal } from "../lib/prompt.ts";
import { userPath } from "../lib/repo.ts";
import type { Runner } from "../lib/runner.ts";
import {
  type CommandPlan,
  isGranted,
  planHostRemove,
  planUserAdd,
  planUserGrant,
  planUserRemove,
  type RepoState,
  sshPublicKeyToAge,
  userFilePath,
  userFilesOfHost,
} from "../lib/sops/mod.ts";

/** What the commands need from the secrets CLI. */
export interface UserCommandContext {
  /** Runs a changing command under the lock and journal (the CLI's `changeRepo`). */
  change(
    command: string,
    build: (state: RepoState, root: string) => CommandPlan | Promise<CommandPlan>,
  ): Promise<void>;
  runner(): Runner;
  /** False with --no-rotate. */
  rotate(): boolean;
}

/** Names are checked before a question shows them. */
function checkNames(names: Record<"user" | "host", string | undefined>): void {
  for (const [kind, name] of Object.entries(names)) {
    if (name !== undefined && !isHostName(name)) {
      throw new UsageError(
        `Invalid ${kind} name "${name}": ${HOST_NAME_RULE.replace("a host", `a ${kind}`)}`,
      );
    }
  }
}

/**
 * Asks before a change that takes access away; `--yes` answers for scripts. A dry run asks
 * nothing: it changes nothing.
 */
async function confirmOrStop(
  runner: Runner,
  question: string,
  yes: boolean,
  stopped: string,
): Promise<void> {
  if (yes || runner.dryRun) return;
  if (!await confirmOnTerminal(question)) {
    throw new Error(`${stopped}: not confirmed (pass --yes to confirm); nothing was changed`);
  }
}

/** Asks the person to type `name` (a destructive change); anything else stops it. */
async function confirmByName(
  runner: Runner,
  question: string,
  name: string,
  yes: boolean,
  stopped: string,
): Promise<void> {
  if (yes || runner.dryRun) return;
  if (!Deno.stdin.isTerminal()) {
    throw new Error(`${stopped}: not confirmed (pass --yes to confirm); nothing was changed`);
  }
  if (!await askToType(question, name)) {
    throw new Error(
      `${stopped}: not confirmed (${name} was not typed; pass --yes in scripts); nothing was changed`,
    );
  }
}

async function userKey(
  runner: Runner,
  name: string,
  ageKey: string | undefined,
  sshKeyFile: string | undefined,
): Promise<string> {
  if ((ageKey === undefined) === (sshKeyFile === undefined)) {
    throw new UsageError(
      `Give user "${name}" exactly one key: an age public key (age1…) or --ssh-key-file <pub>`,
    );
  }
  if (ageKey !== undefined) return ageKey;
  const text = await Deno.readTextFile(userPath(sshKeyFile!)).catch((error) => {
    const cause = error instanceof Deno.errors.NotFound ? "no such file" : (error as Error).message;
    throw new Error(`Cannot read the SSH key ${sshKeyFile}: ${cause}`);
  });
  let recipient: string;
  try {
    recipient = sshPublicKeyToAge(text);
  } catch (error) {
    throw new Error(`Cannot use the SSH key ${sshKeyFile}: ${(error as Error).message}`);
  }
  // The fingerprint, for comparing with the person's own `ssh-keygen -l`.
  const line = `${text.trim().split(/\s+/).slice(0, 2).join(" ")}\n`;
  runner.log(
    `User key: ${await runner.text({ argv: ["ssh-keygen", "-l", "-f", "-"], stdin: line })}`,
  );
  return recipient;
}

/** Adds `user add|remove|grant|revoke` under `user` and `remove` under `host`. */
export function registerUserCommands(
  user: Command,
  host: Command,
  context: UserCommandContext,
): void {
  user.command("add")
    .description("add a user's key (age, or converted from an SSH ed25519 key); reads nothing yet")
    .argument("<name>")
    .argument("[age-public-key]")
    .option("--ssh-key-file <pub>", "the user's OpenSSH ed25519 public key, converted to age")
    .action(async (name, ageKey, o) => {
      const recipient = await userKey(context.runner(), name, ageKey, o.sshKeyFile);
      await context.change(
        `secrets user add ${name}`,
        (state) => planUserAdd(state, name, recipient, { rotate: context.rotate() }),
      );
      context.runner().log(`Next: deno task secrets user grant ${name} <host>`);
    });

  user.command("remove")
    .description("remove a user: every file they could read is re-keyed without them and rotated")
    .argument("<name>")
    .option("-y, --yes", "do not ask to confirm")
    .action(async (name, o) => {
      checkNames({ user: name, host: undefined });
      await confirmOrStop(
        context.runner(),
        `Remove user "${name}"? Every file they can read is re-keyed without them; their files stay, for the admins only.`,
        o.yes ?? false,
        `Cannot remove user "${name}"`,
      );
      await context.change(
        `secrets user remove ${name}`,
        (state) => planUserRemove(state, name, { rotate: context.rotate() }),
      );
    });

  for (const revoke of [false, true]) {
    const verb = revoke ? "revoke" : "grant";
    const command = user.command(verb)
      .description(
        revoke
          ? "stop a user and a host reading the user's file on it (rotated; the file stays, for the admins)"
          : "let a user read secrets/users/<user>/<host>.yaml on that host (created if absent)",
      )
      .argument("<user>")
      .argument("<host>");
    if (revoke) {
      command.option("-y, --yes", "do not ask to confirm")
        .option("--delete", "delete the file and its rule instead of keeping it for the admins");
    }
    command.action(async (name, hostName, o) => {
      const { yes, delete: deleteFile } = o as { yes?: boolean; delete?: boolean };
      checkNames({ user: name, host: hostName });
      const path = userFilePath(name, hostName);
      if (revoke && deleteFile) {
        // Deleting is the one change no rekey undoes: asked by name, not y/N, so a reflex
        // "y" (or Enter) deletes nothing; --yes is for scripts, which name it on the command line.
        await confirmByName(
          context.runner(),
          `Delete ${path} and its rule? Its secrets are gone for everyone (git history keeps the encrypted file).`,
          path,
          yes ?? false,
          `Cannot delete ${path}`,
        );
      } else if (revoke) {
        await confirmOrStop(
          context.runner(),
          `Revoke: ${name} and ${hostName} stop reading ${path} (its data key is rotated); the file stays, for the admins only. Continue?`,
          yes ?? false,
          `Cannot revoke ${name} on ${hostName}`,
        );
      }
      await context.change(
        `secrets user ${verb} ${name} ${hostName}${deleteFile ? " --delete" : ""}`,
        (state) =>
          planUserGrant(state, name, hostName, {
            rotate: context.rotate(),
            revoke,
            deleteFile: deleteFile ?? false,
          }),
      );
      if (revoke && !deleteFile && !context.runner().dryRun) {
        context.runner().log(
          `${path} is kept for the admins; \`secrets user revoke ${name} ${hostName} --delete\` deletes it`,
        );
      }
    });
  }

  host.command("remove")
    .description(
      "remove a host: its key file goes and every file is re-keyed without it, rotated",
    )
    .argument("<name>")
    .option("-y, --yes", "do not ask to confirm")
    .action(async (name, o) => {
      checkNames({ user: undefined, host: name });
      await confirmOrStop(
        context.runner(),
        `Remove host "${name}"? Its key file goes and no file stays readable by it.`,
        o.yes ?? false,
        `Cannot remove host "${name}"`,
      );
      let userFiles: string[] = [];
      await context.change(`secrets host remove ${name}`, (state) => {
        // The files its users keep reading: those whose rule still names their user.
        userFiles = userFilesOfHost(state, name).filter((path) =>
          isGranted(state.config.text, path.split("/")[2]!, name)
        );
        return planHostRemove(state, name, { rotate: context.rotate() });
      });
      const runner = context.runner();
      for (const path of userFiles) {
        const owner = path.split("/")[2]!;
        runner.log(
          `${path}: ${
            runner.dryRun ? "would stay" : "stays"
          } readable by ${owner} and the admins; \`secrets user revoke ${owner} ${name}\` takes it from ${owner} too`,
        );
      }
      if (!runner.dryRun) {
        runner.log(
          `configurations/${name}/ is kept without its key: delete it with git rm -r when the machine is gone`,
        );
        runner.log(
          `secrets/${name}.yaml is kept for the admins; \`secrets host add ${name} --key-file <pub> --restore\` gives a new key that file and nothing else (a .pub put back by hand gets nothing)`,
        );
      }
    });
}
