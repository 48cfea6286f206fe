// Brute-force blocking for real: Debian's fail2ban, configured with lib/security.nix's values
// as mixin-bruteforce gives them to NixOS' module (the sshd jail reading the journal, bans
// through nftables), reads a systemd test host's journal, where the host's real sshd logs real
// failed logins from a loopback test address. The containers cannot run nft themselves, so
// fail2ban runs on the machine, in an nftables table of the test's own, with the loopback
// exemption off (ignoreself = false, no ignoreip): the banned address is refused, another
// address still connects. A second jail reads log lines naming a documentation address (no
// traffic is sent to it) and must add it to its set. The security counters of
// monitoring/host-facts.sh are read back from the same events.
import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { runProgram, runProgramOk } from "../testing/run.ts";
import { startSystemdHosts } from "../testing/systemd_hosts.ts";
import { waitFor as waitForUpTo } from "../testing/wait.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const ATTACKER = "127.0.0.77";
const DOCUMENTATION_ADDRESS = "192.0.2.55";

interface Security {
  sshMaxRetry: number;
  findTime: string;
  banTime: string;
}

/** The shared waitFor with this file's bound (the machine may be loaded). */
const waitFor = (what: string, probe: () => Promise<boolean>) => waitForUpTo(what, probe, 120);

/** `ssh` from `source` to the host as a user that does not exist: one failed login. */
function failedLogin(address: string, source: string) {
  return runProgram([
    "ssh",
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=no",
    "-o",
    "UserKnownHostsFile=/dev/null",
    "-o",
    "ConnectTimeout=5",
    "-b",
    source,
    `nobody-here@${address}`,
    "true",
  ]);
}

Deno.test("brute force: fail2ban bans a loopback address after real failed logins and a documentation address from log lines; host-facts counts it all", async () => {
  const security = JSON.parse(
    await runProgramOk(["nix", "eval", "--json", "--file", `${ROOT}lib/security.nix`]),
  ) as Security;
  const work = await Deno.makeTempDir({ prefix: "fail2ban-" });
  const table = `devops-test-f2b-${Deno.pid}`;
  const conf = `${work}/etc`;
  let server: Deno.ChildProcess | undefined;
  await using fleet = await startSystemdHosts(1, { names: ["alpha"], users: [{ name: "guest" }] });
  const alpha = fleet.host("alpha");
  try {
    // Debian's fail2ban configuration (its filters and actions), without Debian's own jails.
    await runProgramOk(["cp", "-r", "/etc/fail2ban", conf]);
    await Deno.remove(`${conf}/jail.d`, { recursive: true });
    await Deno.mkdir(`${conf}/jail.d`);
    await Deno.writeTextFile(
      `${conf}/fail2ban.local`,
      [
        "[Definition]",
        `logtarget = ${work}/fail2ban.log`,
        `socket = ${work}/fail2ban.sock`,
        `pidfile = ${work}/fail2ban.pid`,
        "dbfile = :memory:",
        "",
      ].join("\n"),
    );
    const machineId = (await alpha.ssh("cat /etc/machine-id")).stdout.trim();
    const journal = alpha.hostPath(`/run/log/journal/${machineId}`);
    const docLog = `${work}/doc.log`;
    await Deno.writeTextFile(docLog, "");
    const action = `nftables-allports[table=${table}, table_family=inet, chain=input]`;
    await Deno.writeTextFile(
      `${conf}/jail.local`,
      [
        // What NixOS' module writes into jail.local from the fleet's options, with the
        // test's journal, table and no exemption of loopback.
        "[DEFAULT]",
        `maxretry = ${security.sshMaxRetry}`,
        `bantime = ${security.banTime}`,
        `findtime = ${security.findTime}`,
        "ignoreself = false",
        "ignoreip =",
        `banaction = ${action}`,
        `banaction_allports = ${action}`,
        "",
        "[sshd]",
        "enabled = true",
        `backend = systemd[journalpath=${journal}]`,
        "",
        "[sshd-lines]",
        "enabled = true",
        "filter = sshd",
        "backend = polling",
        `logpath = ${docLog}`,
        "",
      ].join("\n"),
    );
    server = new Deno.Command("fail2ban-server", {
      args: ["-f", "-x", "-c", conf],
      stdout: "null",
      stderr: "null",
    }).spawn();
    const client = (...args: string[]) => runProgram(["fail2ban-client", "-c", conf, ...args]);
    await waitFor("fail2ban to answer", async () => (await client("ping")).code === 0);
    await waitFor("both jails", async () => (await client("status")).stdout.includes("sshd-lines"));

    // Before: the attacker's address reaches sshd (and fails to log in).
    const before = await failedLogin(alpha.address, ATTACKER);
    assertStringIncludes(before.stderr, "Permission denied");
    for (let i = 1; i < security.sshMaxRetry; i++) await failedLogin(alpha.address, ATTACKER);

    await waitFor(`${ATTACKER} banned`, async () => {
      const status = await client("status", "sshd");
      return status.stdout.includes(ATTACKER);
    });
    // fail2ban reports the ban before its action has run: the set is the proof.
    const inSet = (address: string) => async () =>
      (await runProgram(["nft", "list", "table", "inet", table])).stdout.includes(address);
    await waitFor(`${ATTACKER} in the nftables set`, inSet(ATTACKER));
    // Banned: refused before sshd sees it. Another address still connects.
    const after = await failedLogin(alpha.address, ATTACKER);
    assert(!after.stderr.includes("Permission denied"), after.stderr);
    assertEquals((await alpha.ssh("echo still here")).stdout, "still here\n");

    // Log lines naming a documentation address: banned without any traffic to it.
    const now = new Date();
    const stamp = now.toString().slice(4, 24); // "Dec 06 2026 19:00:00"
    const lines = Array.from(
      { length: security.sshMaxRetry },
      (_, i) =>
        `${stamp} alpha sshd[${
          100 + i
        }]: Failed password for root from ${DOCUMENTATION_ADDRESS} port ${40000 + i} ssh2`,
    );
    await Deno.writeTextFile(docLog, lines.join("\n") + "\n", { append: true });
    await waitFor(`${DOCUMENTATION_ADDRESS} banned`, async () => {
      const status = await client("status", "sshd-lines");
      return status.stdout.includes(DOCUMENTATION_ADDRESS);
    });
    await waitFor(`${DOCUMENTATION_ADDRESS} in the nftables set`, inSet(DOCUMENTATION_ADDRESS));

    // host-facts.sh reports what happened: fail2ban's counts (asked through the real client;
    // on a host its socket is the default one, here the test server's), and, run on the host
    // itself, a root login from outside the admin networks and a user refused by sudo.
    const bin = `${work}/bin`;
    await Deno.mkdir(bin);
    await Deno.writeTextFile(
      `${bin}/fail2ban-client`,
      `#!/bin/sh\nexec /usr/bin/fail2ban-client -c ${conf} "$@"\n`,
      { mode: 0o755 },
    );
    const counted = await runProgramOk(["sh", `${ROOT}monitoring/host-facts.sh`], {
      env: { PATH: `${bin}:${Deno.env.get("PATH")}`, DEVOPS_FACTS_ROOT: work },
    });
    assertStringIncludes(counted, 'devops_fail2ban_banned{jail="sshd"} 1\n');
    assertStringIncludes(counted, 'devops_fail2ban_banned{jail="sshd-lines"} 1\n');
    const failed = Number(
      /^devops_fail2ban_failed_total\{jail="sshd"\} (\d+)$/m.exec(counted)?.[1],
    );
    assert(failed >= security.sshMaxRetry, counted);

    await Deno.copyFile(`${ROOT}monitoring/host-facts.sh`, alpha.hostPath("/root/host-facts.sh"));
    const facts = () =>
      alpha.ssh("sh /root/host-facts.sh --admin-network 127.0.0.1/32").then((r) => r.stdout);
    // The harness logs in as root from 127.0.0.1, inside the network given.
    assertStringIncludes(await facts(), "devops_root_logins_outside_admin_networks 0\n");
    assertStringIncludes(await facts(), "devops_sudo_refused 0\n");
    const outside = await runProgram([
      "ssh",
      "-F",
      fleet.sshConfigFile,
      "-b",
      "127.0.0.88",
      `root@${alpha.address}`,
      "true",
    ]);
    assertEquals(outside.code, 0, outside.stderr);
    // sudo asks a user outside sudoers for their password first, and then refuses.
    await alpha.ssh("echo 'guest:guest-password' | chpasswd");
    await runProgram([
      "ssh",
      "-F",
      fleet.sshConfigFile,
      `guest@${alpha.address}`,
      "echo guest-password | sudo -S -p '' true",
    ]);
    await waitFor("the root login and the refused sudo counted", async () => {
      const text = await facts();
      return text.includes("devops_root_logins_outside_admin_networks 1\n") &&
        text.includes("devops_sudo_refused 1\n");
    });
  } finally {
    if (server !== undefined) {
      await runProgram(["fail2ban-client", "-c", conf, "stop"]);
      await server.status;
    }
    // fail2ban removes its sets and table when it stops; the table is the test's own.
    await runProgram(["nft", "delete", "table", "inet", table]);
    await Deno.remove(work, { recursive: true });
  }
});
