// The monitoring role end to end with the real programs: Prometheus (Debian's) scrapes real
// node exporters with the scrape configuration lib/monitoring.nix generates from a test
// fleet's facts (hostile host names included), evaluates monitoring/rules/, and a real
// Alertmanager with the configuration lib/monitoring.nix generates delivers to a webhook
// receiver and an SMTP receiver on 127.0.0.1; a host that is down inhibits its other alerts.
//
// The rules' `for:` durations are cut to 0s in a copy (minutes of waiting otherwise) and the
// scrape and evaluation intervals to 1s; nothing else differs from what the role deploys.
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { runProgram, runProgramOk } from "../testing/run.ts";
import { startHttpServer, type TestHttpServer } from "../testing/http_server.ts";
import { freePort, waitFor } from "../testing/wait.ts";
import { prometheusConfig } from "../testing/monitoring.ts";
import { startSystemdHosts } from "../testing/systemd_hosts.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const HOST_FACTS = `${ROOT}monitoring/host-facts.sh`;
const RULES = `${ROOT}monitoring/rules/fleet-alerts.yml`;
/** Bounded waits: generous, since the machine may be loaded; never a fixed sleep. */
const DEADLINE_SECONDS = 150;

/** The shared waitFor with this file's generous bound (the machine may be loaded). */
const waitUpTo = <T>(what: string, probe: () => Promise<T | undefined | false>) =>
  waitFor(what, probe, DEADLINE_SECONDS);

class Processes {
  #children = new Map<string, Deno.ChildProcess>();
  start(name: string, argv: string[]): void {
    this.#children.set(
      name,
      new Deno.Command(argv[0]!, { args: argv.slice(1), stdout: "null", stderr: "null" }).spawn(),
    );
  }
  async stop(name: string): Promise<void> {
    const child = this.#children.get(name);
    if (child === undefined) return;
    this.#children.delete(name);
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
  }
  async stopAll(): Promise<void> {
    for (const name of [...this.#children.keys()]) await this.stop(name);
  }
}

/** A minimal SMTP receiver that records each message and the AUTH PLAIN password it got. */
function startSmtpReceiver() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const messages: { password: string; data: string }[] = [];
  const encoder = new TextEncoder();
  const serve = async (conn: Deno.Conn) => {
    const write = (line: string) => conn.write(encoder.encode(`${line}\r\n`));
    const decoder = new TextDecoder();
    let buffer = "";
    let password = "";
    let inData = false;
    let data = "";
    await write("220 test ESMTP");
    const reader = conn.readable.getReader();
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += decoder.decode(value, { stream: true });
        let newline: number;
        while ((newline = buffer.indexOf("\r\n")) >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 2);
          if (inData) {
            if (line === ".") {
              inData = false;
              messages.push({ password, data });
              await write("250 queued");
            } else data += `${line}\n`;
            continue;
          }
          const verb = line.split(" ")[0]!.toUpperCase();
          if (verb === "EHLO") {
            await conn.write(encoder.encode("250-test\r\n250 AUTH PLAIN\r\n"));
          } else if (verb === "AUTH") {
            const credentials = atob(line.split(" ")[2] ?? "").split("\0");
            password = credentials[2] ?? "";
            await write("235 ok");
          } else if (verb === "DATA") {
            inData = true;
            await write("354 go on");
          } else if (verb === "QUIT") {
            await write("221 bye");
            return;
          } else await write("250 ok");
        }
      }
    } finally {
      try {
        conn.close();
      } catch { /* closed by the peer */ }
    }
  };
  const accepting = (async () => {
    for await (const conn of listener) serve(conn).catch(() => {});
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    messages,
    async close() {
      listener.close();
      await accepting;
    },
  };
}

/** Host facts written by the real script from a fake root whose system drifted (or not). */
async function writeHostFacts(dir: string, extra: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const root = await Deno.makeTempDir({ prefix: "e2e-root-" });
  try {
    const result = await runProgram(["sh", HOST_FACTS, "--out", `${dir}/host-facts.prom`], {
      env: { DEVOPS_FACTS_ROOT: root },
    });
    assertEquals(result.code, 0, result.stderr);
    if (extra !== "") await Deno.writeTextFile(`${dir}/extra.prom`, extra);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
}

interface PromSample {
  metric: Record<string, string>;
  value: [number, string];
}

async function query(prometheus: string, expr: string): Promise<PromSample[]> {
  try {
    const response = await fetch(`${prometheus}/api/v1/query?query=${encodeURIComponent(expr)}`);
    const body = await response.json() as { data: { result: PromSample[] } };
    return body.data.result;
  } catch {
    // Not listening yet: no samples.
    return [];
  }
}

/** lib/monitoring.nix's scrape configuration for a test fleet's facts (name -> facts). */
async function scrapeConfigsFor(
  work: string,
  facts: Record<string, unknown>,
): Promise<
  { job_name: string; static_configs: { targets: string[]; labels: Record<string, string> }[] }[]
> {
  await Deno.writeTextFile(`${work}/facts.json`, JSON.stringify(facts));
  return JSON.parse(
    await runProgramOk([
      "nix",
      "eval",
      "--json",
      "--impure",
      "--expr",
      `(import ${ROOT}lib/monitoring.nix).scrapeConfigsFor (builtins.fromJSON (builtins.readFile ${work}/facts.json))`,
    ]),
  );
}

/** Every alert Alertmanager posted to the webhook receiver so far. */
function webhookAlerts(
  webhook: TestHttpServer,
): { status: string; labels: Record<string, string> }[] {
  return webhook.requests.filter((r) => r.path === "/hook").flatMap((r) =>
    (JSON.parse(r.body) as { alerts: { status: string; labels: Record<string, string> }[] })
      .alerts
  );
}

/**
 * Alertmanager with lib/monitoring.nix's configuration (its placeholders filled in by
 * envsubst, as the NixOS module does at start) and Prometheus with the given scrape
 * configuration and the fleet's rules (for: cut to 0s).
 */
async function startMonitoringStack(
  work: string,
  processes: Processes,
  generated: unknown[],
  smtpPort: number,
  webhookUrl: string,
): Promise<{ prometheus: string; amPort: number }> {
  // Alertmanager with the generated configuration, its placeholders filled in by envsubst.
  const amPort = freePort();
  const amConfig = JSON.parse(
    await runProgramOk([
      "nix",
      "eval",
      "--json",
      "--file",
      `${ROOT}lib/monitoring.nix`,
      "alertmanagerConfig",
      "--apply",
      `f: f { email = { to = "admin@example.org"; from = "am@example.org"; smarthost = "127.0.0.1:${smtpPort}"; username = "am"; requireTls = false; }; webhook = true; heartbeat = true; }`,
    ]),
  );
  const substituted = await runProgram(["envsubst"], {
    stdin: JSON.stringify(amConfig),
    env: {
      SMTP_PASSWORD: "smtp-secret-from-sops",
      WEBHOOK_URL: `${webhookUrl}/hook`,
      HEARTBEAT_URL: `${webhookUrl}/heartbeat`,
    },
  });
  await Deno.writeTextFile(`${work}/alertmanager.yml`, substituted.stdout);
  processes.start("alertmanager", [
    "prometheus-alertmanager",
    `--config.file=${work}/alertmanager.yml`,
    `--storage.path=${work}/alertmanager`,
    `--web.listen-address=127.0.0.1:${amPort}`,
    "--cluster.listen-address=",
  ]);

  // Prometheus with the generated targets and the rules (for: cut to 0s).
  const rules = parseYaml(await Deno.readTextFile(RULES)) as {
    groups: { rules: { for?: string }[] }[];
  };
  for (const group of rules.groups) for (const rule of group.rules) rule.for = "0s";
  await Deno.writeTextFile(`${work}/rules.yml`, stringifyYaml(rules));
  const config = prometheusConfig({
    scrapeConfigs: generated,
    ruleFiles: [`${work}/rules.yml`],
    alertmanagers: [{ static_configs: [{ targets: [`127.0.0.1:${amPort}`] }] }],
  });
  config.global = { scrape_interval: "1s", evaluation_interval: "1s" };
  await Deno.writeTextFile(`${work}/prometheus.yml`, JSON.stringify(config));
  const promPort = freePort();
  const prometheus = `http://127.0.0.1:${promPort}`;
  processes.start("prometheus", [
    "prometheus",
    `--config.file=${work}/prometheus.yml`,
    `--storage.tsdb.path=${work}/tsdb`,
    `--web.listen-address=127.0.0.1:${promPort}`,
  ]);

  return { prometheus, amPort };
}

Deno.test("monitoring end to end: generated targets scraped, HostDown delivered, the rest inhibited", async () => {
  const work = await Deno.makeTempDir({ prefix: "monitoring-e2e-" });
  const processes = new Processes();
  const smtp = startSmtpReceiver();
  await using webhook = startHttpServer({
    "POST /hook": { body: "ok" },
    "POST /heartbeat": { body: "ok" },
  });
  try {
    // A test fleet: alpha (its SMART exporter reports a failing disk), beta (the same), and a
    // host whose name is full of YAML and PromQL metacharacters.
    const hostile = "we\"ird: {host} $x #1\n- 'q'";
    const hosts = { alpha: freePort(), beta: freePort(), [hostile]: freePort() };
    const smart = { alpha: freePort(), beta: freePort() };
    const facts: Record<string, unknown> = {};
    for (const [name, port] of Object.entries(hosts)) {
      facts[name] = {
        interface: "lo",
        address: "127.0.0.1",
        port,
        presence: "always",
        smart: name in smart,
      };
    }
    const generated = await scrapeConfigsFor(work, facts);
    // The smartctl job's port is the fleet's fixed one; the test's exporters listen elsewhere.
    for (const job of generated) {
      if (job.job_name !== "smartctl") continue;
      for (const group of job.static_configs) {
        group.targets = [`127.0.0.1:${smart[group.labels.host as keyof typeof smart]}`];
      }
    }
    const labelsByJob = Object.fromEntries(
      generated.map((job) => [job.job_name, job.static_configs.map((g) => g.labels.host).sort()]),
    );
    assertEquals(labelsByJob.node, Object.keys(hosts).sort());
    assertEquals(labelsByJob.smartctl, ["alpha", "beta"]);

    // Exporters: each host's node exporter serves its host facts; the "smartctl" exporters
    // are node exporters serving smartctl_exporter's metric from a textfile.
    for (const [name, port] of Object.entries(hosts)) {
      const dir = `${work}/textfile-${port}`;
      await writeHostFacts(dir, "");
      processes.start(`node-${name}`, [
        "prometheus-node-exporter",
        "--collector.disable-defaults",
        "--collector.textfile",
        `--collector.textfile.directory=${dir}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ]);
    }
    for (const [name, port] of Object.entries(smart)) {
      const dir = `${work}/smart-${port}`;
      await Deno.mkdir(dir);
      await Deno.writeTextFile(
        `${dir}/smart.prom`,
        'smartctl_device_smart_status{device="sda",device_type="sat",protocol="ATA"} 0\n',
      );
      processes.start(`smart-${name}`, [
        "prometheus-node-exporter",
        "--collector.disable-defaults",
        "--collector.textfile",
        `--collector.textfile.directory=${dir}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ]);
    }

    const { prometheus, amPort } = await startMonitoringStack(
      work,
      processes,
      generated,
      smtp.port,
      webhook.url,
    );

    // Every generated target is up, the textfile metrics present, labels intact.
    await waitUpTo("every target up", async () => {
      const up = await query(prometheus, 'up{job="node"} == 1');
      return up.length === Object.keys(hosts).length ? up : undefined;
    });
    const factsSeen = await waitUpTo("the host facts of every host", async () => {
      const seen = await query(prometheus, "devops_host_facts_timestamp_seconds");
      return seen.length === Object.keys(hosts).length ? seen : undefined;
    });
    assertEquals(factsSeen.map((s) => s.metric.host).sort(), Object.keys(hosts).sort());

    // SmartFailure for both hosts reaches the webhook, then alpha's exporter stops.
    const posted = () => webhookAlerts(webhook);
    await waitUpTo("SmartFailure for beta at the webhook", () =>
      Promise.resolve(
        posted().some((a) => a.labels.alertname === "SmartFailure" && a.labels.host === "beta")
          ? true
          : undefined,
      ));
    await processes.stop("node-alpha");

    const hostDown = await waitUpTo("HostDown for alpha at the webhook", () =>
      Promise.resolve(
        posted().find((a) =>
          a.labels.alertname === "HostDown" && a.labels.host === "alpha" && a.status === "firing"
        ),
      ));
    assertEquals(hostDown.labels.severity, "critical");
    assert(
      !posted().some((a) => a.labels.alertname === "HostDown" && a.labels.host !== "alpha"),
      "HostDown for a host that is up",
    );

    // alpha's other alert is held back by Alertmanager's inhibition; beta's is not.
    const alerts = await waitUpTo("alpha's SmartFailure inhibited", async () => {
      const response = await fetch(`http://127.0.0.1:${amPort}/api/v2/alerts`);
      const all = await response.json() as {
        labels: Record<string, string>;
        status: { state: string; inhibitedBy: string[] };
      }[];
      const alpha = all.find((a) =>
        a.labels.alertname === "SmartFailure" && a.labels.host === "alpha"
      );
      return alpha?.status.state === "suppressed" ? all : undefined;
    });
    const beta = alerts.find((a) =>
      a.labels.alertname === "SmartFailure" && a.labels.host === "beta"
    );
    assertEquals(beta?.status.state, "active");

    // The same alert arrived by email, through the password from the environment file.
    const mail = await waitUpTo(
      "the HostDown email",
      () => Promise.resolve(smtp.messages.find((m) => m.data.includes("HostDown"))),
    );
    assertEquals(mail.password, "smtp-secret-from-sops");
    assertStringIncludes(mail.data, "alpha");

    // The heartbeat: the Watchdog reached the dead man's switch, and only there.
    const heartbeat = await waitUpTo("the Watchdog at the heartbeat URL", () =>
      Promise.resolve(
        webhook.requests.find((r) => r.path === "/heartbeat" && r.body.includes('"Watchdog"')),
      ));
    const beat = JSON.parse(heartbeat.body) as { alerts: { labels: Record<string, string> }[] };
    assertEquals(beat.alerts.map((a) => a.labels.alertname), ["Watchdog"]);
    assert(
      !posted().some((a) => a.labels.alertname === "Watchdog"),
      "the Watchdog at the fleet's webhook",
    );
    assert(!smtp.messages.some((m) => m.data.includes("Watchdog")), "the Watchdog by email");
  } finally {
    await processes.stopAll();
    await smtp.close();
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("monitoring end to end on systemd hosts: exporters as units, reboot-needed, a failed unit and a stopped exporter alert", async () => {
  const work = await Deno.makeTempDir({ prefix: "monitoring-systemd-" });
  const processes = new Processes();
  const smtp = startSmtpReceiver();
  await using webhook = startHttpServer({
    "POST /hook": { body: "ok" },
    "POST /heartbeat": { body: "ok" },
  });
  await using fleet = await startSystemdHosts(2, { names: ["alpha", "beta"] });
  try {
    // Each host boots a system (stage 2 makes it the booted and current one); alpha then
    // switches to a system with another kernel, as switch-to-configuration would.
    const system = (name: string, kernel: string) =>
      `mkdir -p /nix/store/${kernel} /nix/store/i1-initrd /nix/store/m1-modules /nix/store/s1-systemd ` +
      `/nix/store/${name} && ln -sfn /nix/store/${kernel} /nix/store/${name}/kernel && ` +
      `ln -sfn /nix/store/i1-initrd /nix/store/${name}/initrd && ` +
      `ln -sfn /nix/store/m1-modules /nix/store/${name}/kernel-modules && ` +
      `ln -sfn /nix/store/s1-systemd /nix/store/${name}/systemd`;
    for (const host of fleet.hosts) {
      await host.ssh(
        `${system("aaaa-nixos-system-1", "k1-linux")} && mkdir -p /nix/var/nix/profiles && ` +
          "ln -sfn /nix/store/aaaa-nixos-system-1 /nix/var/nix/profiles/system-1-link && " +
          "ln -sfn system-1-link /nix/var/nix/profiles/system",
      );
      await host.reboot();
    }
    await fleet.host("alpha").ssh(
      `${system("bbbb-nixos-system-2", "k2-linux")} && ` +
        "ln -sfn /nix/store/bbbb-nixos-system-2 /run/current-system",
    );
    const facts: Record<string, unknown> = {};
    for (const host of fleet.hosts) {
      facts[host.name] = { interface: "lo", address: host.address, presence: "always" };
      // The real host-facts script and Debian's node exporter, each a unit under the host's
      // own systemd (the name differs from NixOS's: the machine's /usr has Debian's unit of
      // that name); the systemd collector asks that systemd.
      await Deno.copyFile(HOST_FACTS, host.hostPath("/root/host-facts.sh"));
      await host.ssh(
        "mkdir -p /run/textfile && " +
          "systemd-run --wait --collect --quiet --unit=devops-host-facts " +
          "sh /root/host-facts.sh --out /run/textfile/host-facts.prom && " +
          "systemd-run --quiet --unit=fleet-node-exporter /usr/bin/prometheus-node-exporter " +
          "--collector.disable-defaults --collector.systemd --collector.systemd.private " +
          "--collector.textfile --collector.textfile.directory=/run/textfile " +
          `--web.listen-address=${host.address}:9100`,
      );
    }
    // beta has a failed unit.
    await fleet.host("beta").ssh("systemd-run --quiet --unit=broken-job false", {
      okCodes: [0, 1],
    });
    const generated = await scrapeConfigsFor(work, facts);
    const { prometheus } = await startMonitoringStack(
      work,
      processes,
      generated,
      smtp.port,
      webhook.url,
    );

    await waitUpTo("both exporters up", async () => {
      const up = await query(prometheus, 'up{job="node"} == 1');
      return up.length === 2 ? up : undefined;
    });
    const units = await waitUpTo("alpha's unit states from its systemd", async () => {
      const seen = await query(
        prometheus,
        'node_systemd_unit_state{host="alpha", name="fleet-node-exporter.service", state="active"}',
      );
      return seen.length === 1 ? seen : undefined;
    });
    assertEquals(units[0]!.value[1], "1");
    const reboot = await query(prometheus, "devops_reboot_required");
    assertEquals(reboot.map((s) => `${s.metric.host}=${s.value[1]}`).sort(), ["alpha=1", "beta=0"]);
    const generation = await query(prometheus, "devops_system_generation");
    assertEquals(generation.map((s) => `${s.metric.host}=${s.value[1]}`).sort(), [
      "alpha=1",
      "beta=1",
    ]);

    const posted = () => webhookAlerts(webhook);
    const failed = await waitUpTo(
      "SystemdUnitFailed for beta at the webhook",
      () =>
        Promise.resolve(
          posted().find((a) =>
            a.labels.alertname === "SystemdUnitFailed" && a.labels.host === "beta"
          ),
        ),
    );
    assertEquals(failed.labels.name, "broken-job.service");
    assert(
      !posted().some((a) =>
        a.labels.alertname === "SystemdUnitFailed" && a.labels.host === "alpha"
      ),
      "alpha has no failed unit",
    );

    await fleet.host("alpha").ssh("systemctl stop fleet-node-exporter");
    await waitUpTo("HostDown for alpha at the webhook", () =>
      Promise.resolve(
        posted().find((a) => a.labels.alertname === "HostDown" && a.labels.host === "alpha"),
      ));
    await waitUpTo(
      "the HostDown email",
      () => Promise.resolve(smtp.messages.find((m) => m.data.includes("HostDown"))),
    );
  } finally {
    await processes.stopAll();
    await smtp.close();
    await Deno.remove(work, { recursive: true });
  }
});
