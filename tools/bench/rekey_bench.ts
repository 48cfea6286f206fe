// Benchmarks rekey against real sops: --check on 200 files/20 hosts, and a full rekey adding one
// host to 100 files (--parallel 1 and the default). Run: deno task bench:rekey
import { makeAgeKey, makeHostKey, run } from "../secrets/_test_support.ts";
import { main as secretsMain } from "../secrets/main.ts";

/** `rekey …` in this process (the bench measures the tool, not Deno's start-up). */
function main(args: string[]): Promise<number> {
  const repo = args.indexOf("--repo");
  return secretsMain([
    "rekey",
    ...args.slice(repo, repo + 2),
    ...args.filter((_, i) => i < repo || i > repo + 1),
  ]);
}
import { captureMain } from "../testing/capture.ts";
import { benchRunsOrExit } from "./bench_args.ts";
import { median } from "./timing.ts";
import { acquireLock } from "../lib/sops/lock.ts";
import {
  dropJournal,
  inspectJournal,
  recordOutput,
  sha256,
  startJournal,
} from "../lib/sops/journal.ts";

/** Runs a main() with its output collected and dropped; returns its exit code. */
async function quiet(fn: () => Promise<number>): Promise<number> {
  return (await captureMain(fn)).code;
}

async function buildRepo(dir: string, hosts: number, sharedFiles: number, hostFiles: boolean) {
  const admin = await makeAgeKey(dir, "admin");
  Deno.env.set("SOPS_AGE_KEY_FILE", admin.file);
  const root = `${dir}/repo`;
  await Deno.mkdir(`${root}/secrets`, { recursive: true });
  await Deno.writeTextFile(`${root}/flake.nix`, "{ }\n");
  const recipients = [admin.recipient];
  for (let i = 0; i < hosts; i++) {
    const key = await makeHostKey(dir, `h${i}`);
    await Deno.mkdir(`${root}/configurations/h${i}`, { recursive: true });
    await Deno.writeTextFile(
      `${root}/configurations/h${i}/ssh_host_ed25519_key.pub`,
      key.publicLine,
    );
    recipients.push(key.recipient);
  }
  const hostNames = Array.from({ length: hosts }, (_, i) => `h${i}`);
  const names = [
    ...(hostFiles ? hostNames : []),
    ...Array.from({ length: sharedFiles }, (_, i) => `shared${String(i).padStart(3, "0")}`),
  ];
  // Host files for admin + their host, shared files granted to every host: in step from the start.
  const keys = [
    `  - &admin_a ${admin.recipient}`,
    ...hostNames.map((h, i) => `  - &host_${h} ${recipients[i + 1]}`),
  ];
  const rules = names.map((name) => {
    const aliases = hostNames.includes(name)
      ? [`*host_${name}`]
      : hostNames.map((h) => `*host_${h}`);
    return `  - path_regex: ^secrets/${name}\\.yaml$\n    key_groups: [ { age: [ *admin_a, ${
      aliases.join(", ")
    } ] } ]`;
  });
  await Deno.writeTextFile(
    `${root}/.sops.yaml`,
    `keys:\n${keys.join("\n")}\ncreation_rules:\n${rules.join("\n")}\n`,
  );
  const config = `${dir}/all.yaml`;
  await Deno.writeTextFile(config, `creation_rules:\n  - age: ${recipients.join(",")}\n`);
  await Promise.all(names.map(async (name, i) => {
    await new Promise((r) => setTimeout(r, (i % 16) * 5));
    const out = await run(
      [
        "sops",
        "--config",
        config,
        "encrypt",
        "--filename-override",
        `secrets/${name}.yaml`,
        "/dev/stdin",
      ],
      { cwd: root, stdin: `value: ${name}\n` },
    );
    if (out.code !== 0) throw new Error(out.stderr);
    await Deno.writeTextFile(`${root}/secrets/${name}.yaml`, out.stdout);
  }));
  // Host files were encrypted for every host: the first rekey narrows them to admin + that host.
  if (await quiet(() => main(["--repo", root, "--parallel", "8"])) !== 0) {
    throw new Error("setup rekey failed");
  }
  return { root, admin };
}

async function time(fn: () => Promise<number>): Promise<number> {
  const start = performance.now();
  const code = await quiet(fn);
  const ms = performance.now() - start;
  if (code !== 0 && code !== 1) throw new Error(`exit ${code}`);
  return ms;
}

if (import.meta.main) {
  const runs = benchRunsOrExit(Deno.args, {
    task: "bench:rekey",
    summary: "Times rekey --check on 200 files and 20 hosts, what the lock and journal cost, and " +
      "a full rekey adding one host to 100 files, against real sops.",
    defaultRuns: 7,
  });
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "rekey-bench-" }));
  try {
    const a = await buildRepo(`${dir}`, 20, 180, true);
    const checks: number[] = [];
    for (let i = 0; i < runs; i++) {
      checks.push(await time(() => main(["--repo", a.root, "--check"])));
    }
    const m = median(checks);
    console.log(
      `rekey --check, 200 files, 20 hosts: median ${m.toFixed(0)} ms (${
        (m / 200).toFixed(2)
      } ms/file) over ${runs} runs`,
    );

    // What safety costs, on the same 100 files: the lock, and the journal's hashes (backups,
    // a hash of every file before, one per output, a recovery-style check of every file).
    const shared = Array.from({ length: 100 }, (_, i) => ({
      path: `secrets/shared${String(i).padStart(3, "0")}.yaml`,
      kind: "rekey" as const,
    }));
    const lockTimes: number[] = [];
    const journalTimes: number[] = [];
    for (let i = 0; i < runs; i++) {
      let start = performance.now();
      await (await acquireLock(a.root, "bench"))[Symbol.asyncDispose]();
      lockTimes.push(performance.now() - start);
      start = performance.now();
      await startJournal(a.root, "bench", shared);
      for (const f of shared) {
        await recordOutput(
          a.root,
          f.path,
          await sha256(await Deno.readFile(`${a.root}/${f.path}`)),
        );
      }
      await inspectJournal(a.root);
      await dropJournal(a.root);
      journalTimes.push(performance.now() - start);
    }
    const safety = { lock: median(lockTimes), journal: median(journalTimes) };

    const bdir = `${dir}/b`;
    await Deno.mkdir(bdir);
    const b = await buildRepo(bdir, 20, 100, false);
    const extra = await makeHostKey(bdir, "new");
    for (const parallel of ["1", "4"]) {
      const copy = `${bdir}/run-${parallel}`;
      const runs: number[] = [];
      for (let i = 0; i < 3; i++) {
        await Deno.remove(copy, { recursive: true }).catch(() => {});
        await run(["cp", "-a", b.root, copy]);
        await Deno.mkdir(`${copy}/configurations/hnew`);
        await Deno.writeTextFile(
          `${copy}/configurations/hnew/ssh_host_ed25519_key.pub`,
          extra.publicLine,
        );
        // The new host is granted every shared file, as `secrets grant` would write it.
        const text = await Deno.readTextFile(`${copy}/.sops.yaml`);
        await Deno.writeTextFile(
          `${copy}/.sops.yaml`,
          text.replace("creation_rules:", `  - &host_hnew ${extra.recipient}\ncreation_rules:`)
            .replaceAll(" ] } ]", ", *host_hnew ] } ]"),
        );
        runs.push(await time(() => main(["--repo", copy, "--parallel", parallel])));
      }
      const mm = median(runs);
      console.log(
        `rekey adding 1 host to 100 files, --parallel ${parallel}${
          parallel === "4" ? " (default)" : ""
        }: median ${mm.toFixed(0)} ms (${(mm / 100).toFixed(1)} ms/file) over 3 runs`,
      );
      if (parallel === "4") {
        console.log(
          `of which at most: lock ${safety.lock.toFixed(1)} ms, journal with hashes of 100 files ${
            safety.journal.toFixed(0)
          } ms (${
            ((safety.lock + safety.journal) / mm * 100).toFixed(1)
          } % of the run), medians over ${runs}`,
        );
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
