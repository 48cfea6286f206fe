// The TLS probes end to end with the real programs: lib/monitoring.nix's "tls" job (from a
// test fleet's `tlsEndpoints`) and its blackbox configuration, Debian's blackbox exporter and
// Prometheus with the fleet's rules, against real TLS servers (openssl s_server) whose
// certificates come from a test CA: one valid for months (quiet), one expiring in 3 days
// (CertificateExpiring), one from an authority the prober does not trust (TlsEndpointFailing).
// The rules' `for:` is cut to 0s in a copy and the intervals to 1s, as in e2e_test.ts.
import { assert, assertEquals } from "../testing/assert.ts";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { runProgram, runProgramOk } from "../testing/run.ts";
import { freePort, waitFor } from "../testing/wait.ts";
import { prometheusConfig } from "../testing/monitoring.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const RULES = `${ROOT}monitoring/rules/fleet-alerts.yml`;
const DEADLINE_SECONDS = 150;

async function openssl(dir: string, ...args: string[]): Promise<void> {
  const result = await runProgram(["openssl", ...args], { cwd: dir });
  assertEquals(result.code, 0, result.stderr);
}

/** A CA, and a certificate for localhost it signs, valid for `days`. */
async function makeCa(dir: string, name: string): Promise<void> {
  await openssl(
    dir,
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "30",
    "-subj",
    `/CN=${name}`,
  );
}

async function makeLeaf(dir: string, ca: string, name: string, days: number): Promise<void> {
  await openssl(
    dir,
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    "/CN=localhost",
  );
  await Deno.writeTextFile(`${dir}/${name}.ext`, "subjectAltName=DNS:localhost\n");
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    `${ca}.pem`,
    "-CAkey",
    `${ca}.key`,
    "-CAcreateserial",
    "-out",
    `${name}.pem`,
    "-days",
    String(days),
    "-extfile",
    `${name}.ext`,
  );
}

interface Alert {
  labels: Record<string, string>;
  state: string;
}

async function firing(prometheus: string): Promise<Alert[]> {
  try {
    const response = await fetch(`${prometheus}/api/v1/alerts`);
    const body = await response.json() as { data: { alerts: Alert[] } };
    return body.data.alerts.filter((alert) => alert.state === "firing");
  } catch {
    return []; // not listening yet
  }
}

Deno.test("TLS probes: an expiring certificate and an untrusted one alert, a valid one stays quiet", async () => {
  const work = await Deno.makeTempDir({ prefix: "tls-probe-" });
  const children: Deno.ChildProcess[] = [];
  const start = (argv: string[]) =>
    children.push(
      new Deno.Command(argv[0]!, { args: argv.slice(1), stdout: "null", stderr: "null" }).spawn(),
    );
  try {
    await makeCa(work, "fleet-ca");
    await makeCa(work, "other-ca");
    await makeLeaf(work, "fleet-ca", "good", 90);
    await makeLeaf(work, "fleet-ca", "expiring", 3);
    await makeLeaf(work, "other-ca", "untrusted", 90);
    const ports = { good: freePort(), expiring: freePort(), untrusted: freePort() };
    for (const [name, port] of Object.entries(ports)) {
      start([
        "openssl",
        "s_server",
        "-quiet",
        "-accept",
        `127.0.0.1:${port}`,
        "-cert",
        `${work}/${name}.pem`,
        "-key",
        `${work}/${name}.key`,
      ]);
    }

    // The fleet: alpha serves the good and the expiring endpoint, beta the untrusted one.
    const facts = {
      alpha: {
        address: "127.0.0.1",
        tlsEndpoints: [`localhost:${ports.good}`, `localhost:${ports.expiring}`],
      },
      beta: { address: "127.0.0.1", tlsEndpoints: [`localhost:${ports.untrusted}`] },
      gamma: { address: "127.0.0.1" },
    };
    await Deno.writeTextFile(`${work}/facts.json`, JSON.stringify(facts));
    const lib = `(import ${ROOT}lib/monitoring.nix)`;
    const jobs = JSON.parse(
      await runProgramOk([
        "nix",
        "eval",
        "--json",
        "--impure",
        "--expr",
        `${lib}.scrapeConfigsFor (builtins.fromJSON (builtins.readFile ${work}/facts.json))`,
      ]),
    ) as { job_name: string; relabel_configs?: { replacement?: string }[] }[];
    const tls = jobs.filter((job) => job.job_name === "tls");
    assertEquals(tls.length, 1);
    // The prober listens on the fleet's fixed port on the monitoring host; here elsewhere.
    const blackboxPort = freePort();
    const prober = tls[0]!.relabel_configs!.find((r) => r.replacement === "127.0.0.1:9115");
    assert(prober !== undefined, "the tls job does not send its probes to 127.0.0.1:9115");
    prober.replacement = `127.0.0.1:${blackboxPort}`;

    const blackbox = await runProgramOk([
      "nix",
      "eval",
      "--json",
      "--impure",
      "--expr",
      `${lib}.blackboxConfigFor { caFile = "${work}/fleet-ca.pem"; }`,
    ]);
    await Deno.writeTextFile(`${work}/blackbox.yml`, blackbox);
    const check = await runProgram([
      "prometheus-blackbox-exporter",
      "--config.check",
      `--config.file=${work}/blackbox.yml`,
    ]);
    assertEquals(check.code, 0, check.stderr);
    start([
      "prometheus-blackbox-exporter",
      `--config.file=${work}/blackbox.yml`,
      `--web.listen-address=127.0.0.1:${blackboxPort}`,
    ]);

    const rules = parseYaml(await Deno.readTextFile(RULES)) as {
      groups: { rules: { for?: string }[] }[];
    };
    for (const group of rules.groups) for (const rule of group.rules) rule.for = "0s";
    await Deno.writeTextFile(`${work}/rules.yml`, stringifyYaml(rules));
    const config = prometheusConfig({
      scrapeConfigs: tls,
      ruleFiles: [`${work}/rules.yml`],
      alertmanagers: [],
    });
    config.global = { scrape_interval: "1s", evaluation_interval: "1s" };
    await Deno.writeTextFile(`${work}/prometheus.yml`, JSON.stringify(config));
    const promPort = freePort();
    const prometheus = `http://127.0.0.1:${promPort}`;
    start([
      "prometheus",
      `--config.file=${work}/prometheus.yml`,
      `--storage.tsdb.path=${work}/tsdb`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ]);

    const key = (alert: Alert) =>
      `${alert.labels.alertname} ${alert.labels.host} ${alert.labels.instance}`;
    const expected = [
      `CertificateExpiring alpha localhost:${ports.expiring}`,
      `TlsEndpointFailing beta localhost:${ports.untrusted}`,
    ];
    const alerts = await waitFor(
      "the TLS alerts",
      async () => {
        const now = (await firing(prometheus)).map(key).sort();
        return expected.every((e) => now.includes(e)) ? now : undefined;
      },
      DEADLINE_SECONDS,
    );
    // Nothing else: the good endpoint is quiet, and a probe that fails does not also claim
    // an expiry (the prober reports none without a verified handshake).
    assertEquals(alerts, expected);
  } finally {
    for (const child of children) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      await child.status;
    }
    await Deno.remove(work, { recursive: true });
  }
});

Deno.test("TLS probes: an endpoint that is not name:port (a newline, a URL, a quote, no port or one out of range, IPv6 without brackets) is refused, naming the host", async () => {
  for (
    const endpoint of [
      "a.lan:443\n- targets: [evil]",
      "https://a.lan",
      'a.lan:443"',
      "a.lan",
      "::1:443",
      "a.lan:99999",
      "a.lan:0",
      "a.lan:0443",
    ]
  ) {
    const facts = JSON.stringify({ alpha: { address: "127.0.0.1", tlsEndpoints: [endpoint] } });
    const result = await runProgram([
      "nix",
      "eval",
      "--json",
      "--impure",
      "--expr",
      `(import ${ROOT}lib/monitoring.nix).scrapeConfigsFor (builtins.fromJSON ''${facts}'')`,
    ]);
    assert(result.code !== 0, `accepted ${JSON.stringify(endpoint)}`);
    assert(
      result.stderr.includes(
        `alpha's monitoring.nix: tlsEndpoints must be a list of "name:port" strings`,
      ),
      result.stderr,
    );
  }
});

Deno.test("TLS probes: a DNS name, an IPv4 address and a bracketed IPv6 address with a port are endpoints", async () => {
  const endpoints = ["a.lan:443", "10.0.0.1:8443", "[::1]:443", "[2001:db8::7]:65535"];
  const facts = JSON.stringify({ alpha: { address: "127.0.0.1", tlsEndpoints: endpoints } });
  const jobs = JSON.parse(
    await runProgramOk([
      "nix",
      "eval",
      "--json",
      "--impure",
      "--expr",
      `(import ${ROOT}lib/monitoring.nix).tlsScrapeConfigsFor (builtins.fromJSON ''${facts}'')`,
    ]),
  ) as { static_configs: { targets: string[] }[] }[];
  assertEquals(jobs[0]!.static_configs[0]!.targets, endpoints);
});
