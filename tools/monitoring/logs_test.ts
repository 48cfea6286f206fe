// Logs in one place, with the real programs: a systemd test host's journal uploaded by
// systemd-journal-upload (as NixOS' unit runs it: saved cursor, restarted when it fails) to
// systemd-journal-remote over plain HTTP (as the monitoring role receives it). All uploads
// come from 127.0.0.1 here, so lines are told apart by _HOSTNAME. They are read as users read
// them on the monitoring host, with `devops-logs` (monitoring/received-logs.sh), which shows a
// batch stored twice by a retried upload once. With the receiver down the host keeps its lines
// and delivers them once it is back: none lost, none twice, in order.
import { assertEquals } from "../testing/assert.ts";
import { runProgram } from "../testing/run.ts";
import { freePort } from "../testing/wait.ts";
import { startSystemdHosts, type SystemdHost } from "../testing/systemd_hosts.ts";

const JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote";
const DEADLINE_MS = 120_000;

const SEARCH = new URL("../../monitoring/received-logs.sh", import.meta.url).pathname;

/** Messages of one tag on one host in the received journals, in order, as the search shows them. */
async function received(dir: string, host: string, tag: string): Promise<string[]> {
  const result = await runProgram([
    SEARCH,
    "--json",
    `--directory=${dir}`,
    `_HOSTNAME=${host}`,
    `SYSLOG_IDENTIFIER=${tag}`,
  ]);
  // An empty or not yet created directory is "no entries", not an error.
  if (result.code !== 0) return [];
  return result.stdout.split("\n").filter((line) => line !== "").map((line) =>
    String(JSON.parse(line).MESSAGE)
  );
}

async function waitForLines(
  dir: string,
  host: string,
  tag: string,
  count: number,
): Promise<string[]> {
  const end = Date.now() + DEADLINE_MS;
  let lines: string[] = [];
  while (Date.now() < end) {
    lines = await received(dir, host, tag);
    if (lines.length >= count) return lines;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out: ${lines.length} of ${count} lines from ${host} arrived`);
}

/** Waits until the host's uploader has saved a cursor at or after its last test line. */
async function waitForAck(host: SystemdHost): Promise<void> {
  const end = Date.now() + DEADLINE_MS;
  const check =
    "s=$(sed -n 's/^LAST_CURSOR=//p' /var/lib/systemd/journal-upload/state 2>/dev/null); " +
    '[ -n "$s" ] && [ -z "$(journalctl -q --after-cursor="$s" --output=cat SYSLOG_IDENTIFIER=devops-logs-test)" ]';
  while (Date.now() < end) {
    if ((await host.ssh(check, { okCodes: [0, 1] })).code === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`timed out waiting for ${host.name}'s uploader to save its cursor`);
}

function startReceiver(port: number, dir: string): Deno.ChildProcess {
  return new Deno.Command(JOURNAL_REMOTE, {
    args: [`--listen-http=127.0.0.1:${port}`, `--output=${dir}/`, "--split-mode=host"],
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  try {
    child.kill("SIGTERM");
  } catch { /* already gone */ }
  await child.status;
}

Deno.test("logs: journal lines reach the receiver, and survive its absence, none lost, none twice, in order", async () => {
  const dir = await Deno.makeTempDir({ prefix: "received-logs-" });
  const port = freePort();
  let receiver = startReceiver(port, dir);
  await using fleet = await startSystemdHosts(2, { names: ["alpha", "beta"] });
  try {
    for (const host of fleet.hosts) {
      await host.ssh(
        "systemd-run --quiet --unit=devops-journal-upload -p Restart=always -p RestartSec=1 " +
          "/lib/systemd/systemd-journal-upload --save-state " +
          `--url=http://127.0.0.1:${port}`,
      );
      await host.ssh(`echo "hello from ${host.name}" | systemd-cat -t devops-logs-test`);
    }
    assertEquals(await waitForLines(dir, "alpha", "devops-logs-test", 1), ["hello from alpha"]);
    assertEquals(await waitForLines(dir, "beta", "devops-logs-test", 1), ["hello from beta"]);

    // The receiver goes away once alpha's uploader has saved, as acknowledged, a cursor past
    // alpha's line: journal-upload delivers at least once, so a line on the wire when the
    // receiver dies would be sent again (its state is saved after each acknowledged upload).
    const alpha = fleet.host("alpha");
    await waitForAck(alpha);
    await stop(receiver);
    for (let i = 1; i <= 5; i++) {
      await alpha.ssh(`echo "while away ${i}" | systemd-cat -t devops-logs-test`);
    }
    // alpha kept them in its own journal.
    const kept = await alpha.ssh("journalctl --output=cat SYSLOG_IDENTIFIER=devops-logs-test");
    assertEquals(kept.stdout.trim().split("\n").length, 6);

    // Back: the uploader resumes from its saved cursor.
    receiver = startReceiver(port, dir);
    // A last line, written once the receiver is back: when it has arrived, everything before
    // it has too, so the list below is whole (a line shown twice would fail it).
    await alpha.ssh(`echo "after return" | systemd-cat -t devops-logs-test`);
    const lines = await waitForLines(dir, "alpha", "devops-logs-test", 7);
    assertEquals(lines, [
      "hello from alpha",
      "while away 1",
      "while away 2",
      "while away 3",
      "while away 4",
      "while away 5",
      "after return",
    ]);
    // beta's lines stayed beta's.
    assertEquals(await received(dir, "beta", "devops-logs-test"), ["hello from beta"]);
  } finally {
    await stop(receiver);
    await Deno.remove(dir, { recursive: true });
  }
});
