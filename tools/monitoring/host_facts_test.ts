// monitoring/host-facts.sh, the one definition of a host's generation, reboot-needed, drift
// from the last deploy and backup age: each state of a fake root read by the real script,
// and its output read by the real node exporter's textfile collector.
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { runProgram } from "../testing/run.ts";

const SCRIPT = new URL("../../monitoring/host-facts.sh", import.meta.url).pathname;

/** A fake root with systems in its store; returns helpers to arrange the host's state. */
async function fakeRoot() {
  const root = await Deno.makeTempDir({ prefix: "host-facts-" });
  const store = `${root}/nix/store`;
  await Deno.mkdir(store, { recursive: true });
  await Deno.mkdir(`${root}/run`, { recursive: true });
  await Deno.mkdir(`${root}/nix/var/nix/profiles`, { recursive: true });
  await Deno.mkdir(`${root}/nix/var/devops-deploy`, { recursive: true });
  const part = async (name: string) => {
    await Deno.mkdir(`${store}/${name}`, { recursive: true });
    return `${store}/${name}`;
  };
  /** A system whose kernel, initrd, kernel-modules and systemd are the named store paths. */
  const system = async (name: string, parts: Record<string, string>) => {
    const dir = await part(name);
    for (const [link, target] of Object.entries(parts)) {
      await Deno.symlink(await part(target), `${dir}/${link}`);
    }
    return `/nix/store/${name}`;
  };
  const link = async (at: string, storePath: string) => {
    await Deno.remove(`${root}${at}`).catch(() => {});
    await Deno.symlink(`${root}${storePath}`, `${root}${at}`);
  };
  return {
    root,
    system,
    link,
    record: (lines: string[]) =>
      Deno.writeTextFile(`${root}/nix/var/devops-deploy/last-deploy`, lines.join("\n") + "\n"),
    cleanup: () => Deno.remove(root, { recursive: true }),
  };
}

const BASE = {
  kernel: "k1-linux",
  initrd: "i1-initrd",
  "kernel-modules": "m1-modules",
  systemd: "s1-systemd",
};

async function facts(root: string, args: string[] = []): Promise<Map<string, string>> {
  const result = await runProgram(["sh", SCRIPT, ...args], { env: { DEVOPS_FACTS_ROOT: root } });
  assertEquals(result.code, 0, result.stderr);
  const values = new Map<string, string>();
  for (const line of result.stdout.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    values.set(line.slice(0, space), line.slice(space + 1));
  }
  return values;
}

Deno.test("host-facts.sh: sh -n and shellcheck find nothing", async () => {
  const syntax = await runProgram(["sh", "-n", SCRIPT]);
  assertEquals(syntax.code, 0, syntax.stderr);
  const lint = await runProgram(["shellcheck", "--shell=sh", SCRIPT]);
  assertEquals(lint.code, 0, lint.stdout);
});

Deno.test("host-facts.sh: generation and reboot-needed from the booted and current systems", async () => {
  const host = await fakeRoot();
  try {
    const first = await host.system("a-nixos-system", BASE);
    await host.link("/run/booted-system", first);
    await host.link("/run/current-system", first);
    await Deno.symlink("system-42-link", `${host.root}/nix/var/nix/profiles/system`);
    let values = await facts(host.root);
    assertEquals(values.get("devops_system_generation"), "42");
    assertEquals(values.get("devops_reboot_required"), "0");
    assertEquals(values.get("devops_deploy_record_present"), "0");
    assertEquals(values.has("devops_system_drift"), false);

    // A new system with only an application changed: same kernel, initrd, modules, systemd.
    const sameBoot = await host.system("b-nixos-system", BASE);
    await host.link("/run/current-system", sameBoot);
    values = await facts(host.root);
    assertEquals(values.get("devops_reboot_required"), "0");

    for (
      const [changed, target] of Object.entries({
        kernel: "k2-linux",
        initrd: "i2-initrd",
        "kernel-modules": "m2-modules",
        systemd: "s2-systemd",
      })
    ) {
      const next = await host.system(`c-${changed}-system`, { ...BASE, [changed]: target });
      await host.link("/run/current-system", next);
      values = await facts(host.root);
      assertEquals(values.get("devops_reboot_required"), "1", `${changed} changed`);
      // Which part: what `deno task status` shows (it runs this script).
      for (const part of ["kernel", "initrd", "kernel-modules", "systemd"]) {
        assertEquals(
          values.get(`devops_reboot_required_part{part="${part}"}`),
          part === changed ? "1" : "0",
          `${changed} changed, ${part} read`,
        );
      }
    }
    // --facts-only (status): the same facts, no security counters.
    const only = await facts(host.root, ["--facts-only"]);
    assertEquals(only.get("devops_reboot_required"), "1");
    assertEquals(only.has("devops_log_shipping_enabled"), false);
    assertEquals(values.get("devops_log_shipping_enabled"), "0");
  } finally {
    await host.cleanup();
  }
});

Deno.test("host-facts.sh: drift against each kind of deploy record", async () => {
  const host = await fakeRoot();
  try {
    const deployed = await host.system("d-deployed-system", BASE);
    const byHand = await host.system("e-by-hand-system", BASE);
    const previous = await host.system("f-previous-system", BASE);
    await host.link("/run/booted-system", previous);
    const cases: { record: string[]; running: string; drift: string | undefined }[] = [
      {
        record: ["status=confirmed", `new=${deployed}`, "mode=switch"],
        running: deployed,
        drift: "0",
      },
      {
        record: ["status=confirmed", `new=${deployed}`, "mode=switch"],
        running: byHand,
        drift: "1",
      },
      {
        record: ["status=confirmed", `new=${deployed}`, "mode=test"],
        running: deployed,
        drift: "0",
      },
      // boot: the host runs what it ran until it reboots.
      {
        record: ["status=done", `new=${deployed}`, "mode=boot", `prev_active=${previous}`],
        running: previous,
        drift: "0",
      },
      {
        record: ["status=done", `new=${deployed}`, "mode=boot", `prev_active=${previous}`],
        running: deployed,
        drift: "1",
      },
      // A rollback records what it left running.
      {
        record: [
          "status=rolled-back-timeout",
          `new=${deployed}`,
          "mode=switch",
          `active_path=${previous}`,
        ],
        running: previous,
        drift: "0",
      },
      // A failed activation without rollback: the record cannot say what should run.
      {
        record: ["status=failed-activation", `new=${deployed}`, "mode=switch"],
        running: byHand,
        drift: undefined,
      },
      // A run still in progress is not final either.
      {
        record: ["status=activating", `new=${deployed}`, "mode=switch"],
        running: byHand,
        drift: undefined,
      },
    ];
    for (const { record, running, drift } of cases) {
      await host.record(record);
      await host.link("/run/current-system", running);
      const values = await facts(host.root);
      assertEquals(values.get("devops_deploy_record_present"), "1");
      assertEquals(
        values.get("devops_system_drift"),
        drift,
        `${record.join(" ")} running ${running}`,
      );
    }
  } finally {
    await host.cleanup();
  }
});

Deno.test("host-facts.sh: backups, hostile names, and the node exporter reads the file", async () => {
  const host = await fakeRoot();
  const textfiles = await Deno.makeTempDir({ prefix: "host-facts-textfile-" });
  try {
    await Deno.mkdir(`${host.root}/var/lib/kopia-backup`, { recursive: true });
    const marker = `${host.root}/var/lib/kopia-backup/last-success`;
    await Deno.writeTextFile(marker, "");
    await Deno.utime(marker, 1_700_000_000, 1_700_000_000);
    const out = `${textfiles}/host-facts.prom`;
    const result = await runProgram([
      "sh",
      SCRIPT,
      "--out",
      out,
      "--backup",
      "kopia:/var/lib/kopia-backup/last-success:93600",
      "--backup",
      'odd"name\\x:/var/lib/none:3600',
    ], { env: { DEVOPS_FACTS_ROOT: host.root } });
    assertEquals(result.code, 0, result.stderr);
    const text = await Deno.readTextFile(out);
    assertMatch(
      text,
      /^devops_backup_last_success_timestamp_seconds\{backup="kopia"\} 1700000000$/m,
    );
    assertMatch(text, /^devops_backup_max_age_seconds\{backup="kopia"\} 93600$/m);
    assertMatch(text, /^devops_backup_max_age_seconds\{backup="odd\\"name\\\\x"\} 3600$/m);
    assert(!text.includes('odd"name\\x:'), "the raw name leaked");
    assertEquals(
      [...Deno.readDirSync(textfiles)].map((e) => e.name),
      ["host-facts.prom"],
      "no temporary file left behind",
    );

    // The real node exporter's textfile collector must accept every line.
    const port = 20000 + Math.floor(Math.random() * 20000);
    const exporter = new Deno.Command("prometheus-node-exporter", {
      args: [
        "--collector.disable-defaults",
        "--collector.textfile",
        `--collector.textfile.directory=${textfiles}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      let body = "";
      for (let attempt = 0; attempt < 100 && body === ""; attempt++) {
        try {
          body = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        } catch {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      assertMatch(body, /^node_textfile_scrape_error 0$/m);
      assertMatch(
        body,
        /^devops_backup_last_success_timestamp_seconds\{backup="kopia"\} 1\.7e\+09$/m,
      );
      assertMatch(body, /^devops_host_facts_timestamp_seconds /m);
    } finally {
      exporter.kill("SIGTERM");
      await exporter.output();
    }
  } finally {
    await host.cleanup();
    await Deno.remove(textfiles, { recursive: true });
  }
});
