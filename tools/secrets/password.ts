// `secrets password <user>`: a person's login password, stored only as its hash (yescrypt, else
// SHA-512 crypt, made by Debian's mkpasswd) under `passwords: { <user>: … }` in each host's
// secrets/<host>.yaml, which the host installs before it creates users (mixin-passwords.nix).
// The password itself goes from the terminal to mkpasswd's stdin and nowhere else: no command
// line, no file, no log line.
import type { Command } from "@commander-js/extra-typings";
import YAML from "yaml";
import { CommandError, UsageError } from "../lib/errors.ts";
import { HOST_NAME_RULE, isHostName } from "../lib/host_name.ts";
import type { Runner } from "../lib/runner.ts";
import {
  blockingError,
  type CommandPlan,
  planRekey,
  type RepoState,
  SECRETS_DIR,
  type Step,
} from "../lib/sops/mod.ts";

/** The key under which a host's file keeps login password hashes. */
export const PASSWORDS_KEY = "passwords";

/** What the commands need from the secrets CLI. */
export interface PasswordCommandContext {
  change(
    command: string,
    build: (state: RepoState, root: string) => CommandPlan | Promise<CommandPlan>,
  ): Promise<void>;
  runner(): Runner;
}

/** The host's own secrets file. */
export function hostFilePath(host: string): string {
  return `${SECRETS_DIR}/${host}.yaml`;
}

/** sops's index of a user's hash in a host file. */
export function passwordIndex(user: string): string {
  return `["${PASSWORDS_KEY}"]["${user}"]`;
}

/** What the command asks for. */
export interface PasswordRequest {
  user: string;
  /** Hosts named with --host; empty: every host that already has a password for the user. */
  hosts: string[];
  /** The hash to store, or undefined for --remove. */
  hash: string | undefined;
}

/** Which host files already hold a hash for which users (key names are plain text in sops). */
export type PasswordHolders = Map<string, Set<string>>;

/**
 * The plan: one `set` step per host file. Pure: refuses (one line, nothing changed) a host
 * without its file, a first password with no --host, a removal of a password that is not there.
 */
export function planPassword(
  state: RepoState,
  request: PasswordRequest,
  holders: PasswordHolders,
): CommandPlan {
  const { user, hash } = request;
  const rekey = planRekey(state);
  const error = blockingError(rekey);
  if (error !== undefined) throw error;
  const has = (host: string) => holders.get(hostFilePath(host))?.has(user) ?? false;
  const known = new Set(state.files.map((f) => f.path));
  let hosts = [...new Set(request.hosts)];
  if (hosts.length === 0) {
    hosts = [...holders].filter(([, users]) => users.has(user))
      .map(([path]) => path.slice(SECRETS_DIR.length + 1, -".yaml".length)).sort();
    if (hosts.length === 0) {
      throw new UsageError(
        hash === undefined
          ? `Cannot remove ${user}'s password: no host file holds one; nothing was changed`
          : `${user} has a password on no host yet: name the hosts with --host <host>`,
      );
    }
  }
  for (const host of hosts) {
    if (!known.has(hostFilePath(host))) {
      throw new Error(
        `Cannot ${
          hash === undefined ? "remove" : "set"
        } ${user}'s password on ${host}: there is no ${
          hostFilePath(host)
        } (add the host first: deno task secrets host add ${host}); nothing was changed`,
      );
    }
  }
  if (hash === undefined) {
    const missing = hosts.filter((h) => !has(h));
    if (missing.length > 0) {
      throw new Error(
        `Cannot remove ${user}'s password on ${
          missing.join(", ")
        }: it has none there; nothing was changed`,
      );
    }
  }
  const steps: Step[] = hosts.map((host) => ({
    kind: "set",
    path: hostFilePath(host),
    index: passwordIndex(user),
    ...(hash === undefined ? {} : { value: hash }),
  }));
  const verb = hash === undefined ? "--remove" : "";
  const command = `secrets password ${user} ${hosts.map((h) => `--host ${h}`).join(" ")} ${verb}`
    .trim().replace(/\s+/g, " ");
  return { rekey, steps: { command, targetConfig: state.config.text, steps } };
}

/** Reads which users have a hash in each host file: only key names, which sops leaves clear. */
export async function readHolders(root: string, state: RepoState): Promise<PasswordHolders> {
  const holders: PasswordHolders = new Map();
  for (const file of state.files) {
    if (!/^secrets\/[^/]+\.yaml$/.test(file.path) || file.metadata === null) continue;
    let doc: unknown;
    try {
      doc = YAML.parse(await Deno.readTextFile(`${root}/${file.path}`));
    } catch {
      continue;
    }
    const passwords = (doc as Record<string, unknown> | null)?.[PASSWORDS_KEY];
    if (passwords !== null && typeof passwords === "object" && !Array.isArray(passwords)) {
      holders.set(file.path, new Set(Object.keys(passwords)));
    }
  }
  return holders;
}

/** A crypt(3) hash mkpasswd printed: yescrypt (`$y$`) or SHA-512 (`$6$`), one line. */
export function isPasswordHash(text: string): boolean {
  return /^\$(y|6)\$[./A-Za-z0-9$=]+$/.test(text);
}

/**
 * Hashes with mkpasswd, the password on its stdin (`-s`), yescrypt first, SHA-512 crypt when this
 * mkpasswd has no yescrypt. Its output (the hash) is not logged, even with --verbose.
 */
export async function hashPassword(runner: Runner, password: string): Promise<string> {
  let lastCause = "";
  for (const method of ["yescrypt", "sha-512"]) {
    let stderr: string;
    try {
      // The password on its stdin; the hash (stdout) never shown, even with --verbose.
      const result = await runner.run({
        argv: ["mkpasswd", "-m", method, "-s"],
        stdin: `${password}\n`,
        secretStdout: true,
      });
      const hash = result.stdout.trim();
      if (isPasswordHash(hash)) return hash;
      stderr = result.stderr.trim().split("\n")[0] ?? "";
      lastCause = stderr || `mkpasswd printed no hash`;
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      if (error.code === 127) {
        throw new Error(
          "Cannot hash the password: mkpasswd is not installed (Debian/Ubuntu: apt-get install whois; nix develop has it); nothing was changed",
        );
      }
      stderr = error.stderrTail.split("\n")[0] ?? "";
      lastCause = stderr || `exit code ${error.code}`;
    }
    // Only a missing method falls back; anything else is the cause.
    if (!/invalid method|unknown method|not supported/i.test(stderr)) break;
  }
  throw new Error(`Cannot hash the password: mkpasswd says: ${lastCause}; nothing was changed`);
}

/**
 * Reads one line per prompt from a terminal with echo off (raw mode, on before the first prompt
 * shows and until the last line is read, so nothing typed ahead is echoed); Ctrl-C or Ctrl-D
 * stops.
 */
async function readHidden(prompts: readonly string[]): Promise<string[]> {
  const encoder = new TextEncoder();
  const lines: string[] = [];
  const bytes: number[] = [];
  const buffer = new Uint8Array(64);
  let pending = new Uint8Array(0);
  Deno.stdin.setRaw(true);
  try {
    for (const prompt of prompts) {
      await Deno.stderr.write(encoder.encode(prompt));
      for (;;) {
        if (pending.length === 0) {
          const n = await Deno.stdin.read(buffer);
          if (n === null) throw new Error("Cannot read the password: the terminal closed");
          pending = buffer.slice(0, n);
        }
        const byte = pending[0]!;
        pending = pending.subarray(1);
        if (byte === 3 || byte === 4) {
          throw new Error("Cannot read the password: stopped; nothing was changed");
        }
        if (byte === 13 || byte === 10) {
          lines.push(new TextDecoder().decode(new Uint8Array(bytes)));
          bytes.fill(0);
          bytes.length = 0;
          await Deno.stderr.write(encoder.encode("\n"));
          break;
        }
        if (byte === 127 || byte === 8) bytes.pop();
        else bytes.push(byte);
      }
    }
    return lines;
  } finally {
    bytes.fill(0);
    buffer.fill(0);
    Deno.stdin.setRaw(false);
  }
}

/** Reads the password: twice at a terminal, or one line of stdin with --stdin. */
export async function readPassword(user: string, fromStdin: boolean): Promise<string> {
  let password: string;
  if (fromStdin) {
    const text = new TextDecoder().decode(await new Response(Deno.stdin.readable).arrayBuffer());
    password = text.split("\n")[0]!.replace(/\r$/, "");
  } else {
    if (!Deno.stdin.isTerminal()) {
      throw new UsageError(
        "Cannot read the password: stdin is not a terminal (it would be typed without a prompt and echo control); run it at a terminal, or pass --stdin to read one line from a pipe",
      );
    }
    const [first, again] = await readHidden([`New password for ${user}: `, "Again: "]);
    password = first!;
    if (again !== password) {
      throw new Error("Cannot set the password: the two entries differ; nothing was changed");
    }
  }
  if (password === "") {
    throw new Error("Cannot set an empty password; nothing was changed");
  }
  return password;
}

function checkName(kind: string, name: string): void {
  if (!isHostName(name)) {
    throw new UsageError(
      `Invalid ${kind} name "${name}": ${HOST_NAME_RULE.replace("a host", `a ${kind}`)}`,
    );
  }
}

/** Adds `password <user> [--host <host>…] [--remove] [--stdin]`. */
export function registerPasswordCommand(program: Command, context: PasswordCommandContext): void {
  program.command("password")
    .description(
      "set, change or remove a person's login password: its hash, in secrets/<host>.yaml",
    )
    .argument("<user>", "the user name on the hosts (root: the console password)")
    .option(
      "--host <host...>",
      "hosts whose file gets the hash (default: every host that has one for the user)",
    )
    .option("--remove", "take the password away (the user logs in with keys only)")
    .option("--stdin", "read the password from one line of stdin instead of a terminal")
    .action(async (user, o) => {
      checkName("user", user);
      const hosts = o.host ?? [];
      for (const host of hosts) checkName("host", host);
      const runner = context.runner();
      let hash: string | undefined;
      if (!o.remove) hash = await hashPassword(runner, await readPassword(user, o.stdin ?? false));
      else if (o.stdin) throw new UsageError("--remove reads no password: drop --stdin");
      let planned: CommandPlan | undefined;
      await context.change(
        `secrets password ${user}`,
        async (state, root) => {
          planned = planPassword(state, { user, hosts, hash }, await readHolders(root, state));
          return planned;
        },
      );
      const names = (planned?.steps.steps ?? []).map((s) =>
        s.path.slice(SECRETS_DIR.length + 1, -".yaml".length)
      );
      const did = runner.dryRun ? "would be" : "is";
      runner.log(
        hash === undefined
          ? `${user}'s password ${did} removed on ${names.join(", ")}; deploy to apply`
          : `${user}'s password hash ${did} in ${
            names.map(hostFilePath).join(", ")
          }; deploy to apply (a host uses it where ${
            user === "root"
              ? "devops.passwords.root is set"
              : `devops.passwords.users lists ${user}`
          })`,
      );
    });
}
