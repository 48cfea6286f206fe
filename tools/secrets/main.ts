// Manages admin and host keys for sops, then re-keys. Run: deno task secrets <admin|host|access> …
import { newProgram, printResult, runMain, runnerFor } from "../lib/cli.ts";
import type { CommonOptions } from "../lib/cli.ts";
import { UsageError } from "../lib/errors.ts";
import { writeFileAtomic } from "../lib/fs.ts";
import { HOST_NAME_RULE, isHostName } from "../lib/host_name.ts";
import { findRepoRoot, userPath } from "../lib/repo.ts";
import type { Runner } from "../lib/runner.ts";
import { isAgeRecipient, sshPublicKeyToAge } from "../rekey/age_keys.ts";
import { pinSopsKeyFile, readRepoState } from "../rekey/executor.ts";
import { formatSummary, parseParallel, rekey, type RekeyResult } from "../rekey/main.ts";
import { planConfigEdits } from "../rekey/plan.ts";
import { applyConfigEdits, parseSopsConfig } from "../rekey/sops_yaml.ts";

function checkName(kind: string, name: string): string {
  if (!isHostName(name)) {
    const rule = kind === "host" ? HOST_NAME_RULE : HOST_NAME_RULE.replace("a host", `an ${kind}`);
    throw new UsageError(`Invalid ${kind} name "${name}": ${rule}`);
  }
  return name;
}

/** The access table: which admin and host holds a recipient on which file. */
export interface AccessTable {
  columns: string[];
  rows: { path: string; access: Record<string, boolean> }[];
}

/** Builds the access table from `.sops.yaml` anchors and each file's metadata. */
export async function accessTable(root: string): Promise<AccessTable> {
  const state = await readRepoState(root);
  const anchors = state.config.keys.filter((k) => /^(admin|host)_/.test(k.anchor ?? ""));
  const columns = anchors.map((k) => k.anchor!);
  const rows = state.files.map((f) => ({
    path: f.path,
    access: Object.fromEntries(
      anchors.map((k) => [k.anchor!, (f.recipients ?? []).includes(k.value)]),
    ),
  }));
  return { columns, rows };
}

/** The access table as text. */
export function formatAccess(table: AccessTable): string {
  const width = Math.max(4, ...table.rows.map((r) => r.path.length));
  const header = ["file".padEnd(width), ...table.columns].join("  ");
  const lines = table.rows.map((r) =>
    [
      r.path.padEnd(width),
      ...table.columns.map((c) => (r.access[c] ? "yes" : "-").padEnd(c.length)),
    ]
      .join("  ").trimEnd()
  );
  return [header, ...lines].join("\n");
}

async function readKeyLine(
  runner: Runner,
  options: { keyFile?: string; scan?: string },
): Promise<string> {
  if ((options.keyFile === undefined) === (options.scan === undefined)) {
    throw new UsageError("Give exactly one of --key-file <path> or --scan <address>");
  }
  if (options.keyFile !== undefined) {
    const text = await Deno.readTextFile(userPath(options.keyFile)).catch(() => {
      throw new Error(`Cannot read host key ${options.keyFile}: no such file`);
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
  if (!Deno.stdin.isTerminal() || !confirm("Is this the host's key (compare on its console)?")) {
    throw new Error(
      "Cannot add the host key: not confirmed (pass --yes after checking the fingerprint)",
    );
  }
}

interface RunOptions extends CommonOptions {
  parallel: number;
  rotate: boolean;
}

async function rekeyWith(
  root: string,
  opts: RunOptions,
  configText?: string,
): Promise<RekeyResult> {
  const result = await rekey(root, {
    runner: runnerFor(opts),
    rotate: opts.rotate,
    parallel: opts.parallel,
    ...(configText === undefined ? {} : { configText }),
  });
  printResult(opts.json, result, formatSummary(result));
  return result;
}

async function setHostKey(
  root: string,
  name: string,
  line: string,
  opts: RunOptions,
  replace: boolean,
) {
  const runner = runnerFor(opts);
  const pub = `${root}/configurations/${name}/ssh_host_ed25519_key.pub`;
  const exists = await Deno.stat(pub).then(() => true, () => false);
  if (exists && !replace) {
    throw new Error(`Cannot add host "${name}": it has a key; use host replace-key`);
  }
  if (!exists && replace) throw new Error(`Cannot replace the key of host "${name}": no ${pub}`);
  if (runner.dryRun) {
    runner.log(`would write configurations/${name}/ssh_host_ed25519_key.pub`);
    return;
  }
  await Deno.mkdir(`${root}/configurations/${name}`, { recursive: true });
  await writeFileAtomic(pub, line);
  const file = `secrets/${name}.yaml`;
  if (!await Deno.stat(`${root}/${file}`).then(() => true, () => false)) {
    // Its rule first (sops picks recipients by rule), then an empty encrypted file.
    const state = await readRepoState(root);
    const paths = [...state.files.map((f) => f.path), file];
    const text = applyConfigEdits(
      state.config,
      planConfigEdits(state.config, state.hostKeys, paths),
    );
    await writeFileAtomic(`${root}/.sops.yaml`, text);
    const encrypted = await runner.text({
      argv: ["sops", "encrypt", "--filename-override", file, "/dev/stdin"],
      cwd: root,
      stdin: "{}\n",
    });
    await Deno.mkdir(`${root}/secrets`, { recursive: true });
    await writeFileAtomic(`${root}/${file}`, `${encrypted}\n`, { mode: 0o644 });
    runner.log(`Created ${file}`);
  }
  await rekeyWith(root, opts);
}

/** The CLI. */
export async function main(args: string[]): Promise<number> {
  return await runMain(async () => {
    pinSopsKeyFile();
    const program = newProgram("secrets", "Manage the admin and host keys of the sops secrets")
      .option("--no-rotate", "do not rotate data keys after removing a recipient")
      .option("--parallel <n>", "files re-keyed at once", parseParallel, 4);

    const root = () => findRepoRoot(Deno.cwd(), program.opts().repo);
    const admin = program.command("admin").description("Admins: age keys that decrypt everything");
    admin.command("add").description("Add an admin's age public key, then rekey")
      .argument("<name>").argument("<age-public-key>")
      .action(async (name, key) => {
        checkName("admin", name);
        if (!isAgeRecipient(key)) {
          throw new UsageError(`Invalid age public key "${key}": expected age1…`);
        }
        const r = await root();
        const config = (await readRepoState(r)).config;
        if (config.keys.some((k) => k.anchor === `admin_${name}`)) {
          throw new Error(`Cannot add admin "${name}": admin_${name} exists in .sops.yaml`);
        }
        const text = applyConfigEdits(config, {
          setAnchors: [{ anchor: `admin_${name}`, value: key }],
        });
        await rekeyWith(r, program.opts(), text);
      });
    admin.command("remove").description("Remove an admin, then rekey and rotate")
      .argument("<name>")
      .action(async (name) => {
        const r = await root();
        const config = (await readRepoState(r)).config;
        const anchor = `admin_${checkName("admin", name)}`;
        if (!config.keys.some((k) => k.anchor === anchor)) {
          throw new Error(`Cannot remove admin "${name}": no ${anchor} in .sops.yaml`);
        }
        if (config.keys.filter((k) => k.anchor?.startsWith("admin_")).length === 1) {
          throw new Error(`Cannot remove admin "${name}": it is the last admin`);
        }
        const state = await readRepoState(r);
        const edits = planConfigEdits(config, state.hostKeys, state.files.map((f) => f.path), {
          removeAdmins: [anchor],
        });
        const text = applyConfigEdits(config, edits);
        parseSopsConfig(text);
        await rekeyWith(r, program.opts(), text);
      });
    admin.command("new-key").description(
      "Generate an age key for you (mode 0600); prints the public key only",
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
        if (await Deno.stat(out).then(() => true, () => false)) {
          throw new Error(`Cannot write a new key to ${out}: the file exists; pass --out`);
        }
        const runner = runnerFor(program.opts());
        await Deno.mkdir(out.replace(/\/[^/]+$/, ""), { recursive: true, mode: 0o700 });
        await runner.run({ argv: ["age-keygen", "-o", out], mutates: true });
        if (runner.dryRun) return;
        await Deno.chmod(out, 0o600);
        const recipient = await runner.text({ argv: ["age-keygen", "-y", out] });
        console.log(recipient);
        if (o.showSecret) {
          console.log(
            (await Deno.readTextFile(out)).split("\n").find((l) => l.startsWith("AGE-SECRET-KEY-")),
          );
        }
        runner.log(
          `Wrote ${out} (mode 0600). Next: deno task secrets admin add <you> ${recipient}`,
        );
      });
    const host = program.command("host").description("Hosts: age keys derived from SSH host keys");
    for (const replace of [false, true]) {
      host.command(replace ? "replace-key" : "add")
        .description(
          replace
            ? "Replace a reinstalled host's key, then rekey and rotate"
            : "Add a host and its secrets file, then rekey",
        )
        .argument("<name>")
        .option("--key-file <path>", "its ssh_host_ed25519_key.pub")
        .option("--scan <address>", "read the key with ssh-keyscan (check the fingerprint)")
        .option("-y, --yes", "do not ask to confirm the fingerprint")
        .action(async (name, o) => {
          checkName("host", name);
          const runner = runnerFor(program.opts());
          const line = await readKeyLine(runner, {
            ...(o.keyFile ? { keyFile: o.keyFile } : {}),
            ...(o.scan ? { scan: o.scan } : {}),
          });
          await confirmKey(runner, line, o.yes ?? false);
          await setHostKey(await root(), name, line, program.opts(), replace);
        });
    }
    program.command("access").description("Table of which admin and host can decrypt which file")
      .action(async () => {
        const table = await accessTable(await root());
        printResult(program.opts().json, table, formatAccess(table));
      });
    await program.parseAsync(args, { from: "user" });
    return 0;
  });
}

if (import.meta.main) Deno.exit(await main(Deno.args));
