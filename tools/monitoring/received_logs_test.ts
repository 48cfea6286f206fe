// The received-logs search (monitoring/received-logs.sh, `devops-logs` on the monitoring host)
// with the real programs: a batch that the real journal-upload sends twice, as it does when an
// upload is cut off mid-batch and retried from its last acknowledged cursor, is stored twice by
// the real journal-remote; plain journalctl shows it twice, the search once.
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { runProgram } from "../testing/run.ts";
import { freePort, waitFor } from "../testing/wait.ts";

const SCRIPT = new URL("../../monitoring/received-logs.sh", import.meta.url).pathname;
const JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote";
const JOURNAL_UPLOAD = "/lib/systemd/systemd-journal-upload";

interface ExportEntry {
  machine: string;
  boot: string;
  monotonic: number;
  realtime: number;
  host: string;
  message: string;
}

/** Journal export format (systemd's JOURNAL_EXPORT_FORMATS), as journal-upload sends it. */
function exportText(entries: readonly ExportEntry[]): string {
  return entries.map((e) =>
    [
      `__REALTIME_TIMESTAMP=${e.realtime}`,
      `__MONOTONIC_TIMESTAMP=${e.monotonic}`,
      `_BOOT_ID=${e.boot}`,
      `_MACHINE_ID=${e.machine}`,
      `_HOSTNAME=${e.host}`,
      "SYSLOG_IDENTIFIER=devops-logs-test",
      "_PID=42",
      `MESSAGE=${e.message}`,
      "",
      "",
    ].join("\n")
  ).join("");
}

const id = () => crypto.randomUUID().replaceAll("-", "");

/** A receiver in `dir` that has stored what the real uploader sent of each batch, in turn. */
async function receive(dir: string, batches: readonly (string | Uint8Array)[]): Promise<void> {
  const port = freePort();
  const receiver = new Deno.Command(JOURNAL_REMOTE, {
    args: [`--listen-http=127.0.0.1:${port}`, `--output=${dir}/`, "--split-mode=host"],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    await waitFor("the receiver to listen", async () => {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        return true;
      } catch {
        return false;
      }
    });
    for (const [index, batch] of batches.entries()) {
      const file = `${dir}.batch${index}`;
      await Deno.writeFile(
        file,
        typeof batch === "string" ? new TextEncoder().encode(batch) : batch,
      );
      const upload = await runProgram([JOURNAL_UPLOAD, `--url=http://127.0.0.1:${port}`, file]);
      await Deno.remove(file);
      assertEquals(upload.code, 0, upload.stderr);
    }
  } finally {
    receiver.kill("SIGTERM");
    await receiver.status;
  }
}

Deno.test("received-logs.sh: sh -n and shellcheck find nothing", async () => {
  assertEquals((await runProgram(["sh", "-n", SCRIPT])).code, 0);
  const lint = await runProgram(["shellcheck", "--shell=sh", SCRIPT]);
  assertEquals(lint.stdout + lint.stderr, "");
});

Deno.test("received logs: a batch stored twice by a retried upload is shown once, in order; distinct lines never fold", async () => {
  const dir = await Deno.makeTempDir({ prefix: "received-" });
  try {
    const alpha = { machine: id(), boot: id(), host: "alpha" };
    const start = Date.now() * 1000;
    const batch = [
      { ...alpha, monotonic: 1_000, realtime: start, message: "first" },
      // The same text again, later: a second line, not a copy.
      { ...alpha, monotonic: 2_000, realtime: start + 1_000, message: "first" },
      { ...alpha, monotonic: 3_000, realtime: start + 2_000, message: "paint \x1b[31mred" },
    ];
    // beta's line has alpha's boot and timestamps, a different machine: not a copy either.
    const beta = { machine: id(), boot: alpha.boot, host: "beta" };
    const betaLine = { ...beta, monotonic: 1_000, realtime: start, message: "first" };
    // The retry: the whole batch again, then a line written after the receiver was back.
    const after = { ...alpha, monotonic: 4_000, realtime: start + 3_000, message: "after" };
    await receive(dir, [
      exportText(batch),
      exportText([betaLine]),
      exportText([...batch, after]),
    ]);

    // journal-remote stored the retried batch again: plain journalctl shows the copies.
    const plain = await runProgram([
      "journalctl",
      `--directory=${dir}`,
      "--output=cat",
      "_HOSTNAME=alpha",
    ]);
    assertEquals(plain.code, 0, plain.stderr);
    assertEquals(plain.stdout.trim().split("\n").length, 7);

    const search = await runProgram([SCRIPT, "--directory", dir, "_HOSTNAME=alpha"]);
    assertEquals(search.code, 0, search.stderr);
    const lines = search.stdout.trimEnd().split("\n");
    assertEquals(
      lines.map((line) => line.replace(/^\S+ /, "")),
      [
        "alpha devops-logs-test[42]: first",
        "alpha devops-logs-test[42]: first",
        "alpha devops-logs-test[42]: paint ?[31mred",
        "alpha devops-logs-test[42]: after",
      ],
    );
    for (const line of lines) assertMatch(line, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ /);
    assert(!search.stdout.includes("\x1b"), "an escape sequence reached the terminal");

    // Both hosts, as JSON: every entry once, beta's line kept.
    const json = await runProgram([SCRIPT, "--json", `--directory=${dir}`]);
    assertEquals(json.code, 0, json.stderr);
    const entries = json.stdout.trimEnd().split("\n").map((line) => JSON.parse(line));
    assertEquals(entries.length, 5);
    assertEquals(
      entries.filter((e) => e._HOSTNAME === "beta").map((e) => e.MESSAGE),
      ["first"],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** One entry in export form with a raw MESSAGE (any bytes but a newline). */
function rawEntry(e: Omit<ExportEntry, "message">, message: number[]): Uint8Array {
  const head = exportText([{ ...e, message: "" }]).replace(/MESSAGE=\n\n$/, "MESSAGE=");
  return new Uint8Array([...new TextEncoder().encode(head), ...message, 10, 10]);
}

Deno.test("received logs: text journalctl hands over as bytes is shown as UTF-8, controls and bidi overrides as '?', and bytes never fold by their rendering", async () => {
  const dir = await Deno.makeTempDir({ prefix: "received-" });
  try {
    const host = { machine: id(), boot: id(), host: "alpha" };
    const at = { ...host, monotonic: 1_000, realtime: Date.now() * 1000 };
    const utf8 = (text: string) => [...new TextEncoder().encode(text)];
    const entries = [
      rawEntry(at, utf8("café \x1b[31mred")),
      // Two different invalid byte strings with the same machine, boot and timestamps.
      rawEntry({ ...at, monotonic: 2_000 }, [98, 97, 100, 32, 0xff, 0xfe]),
      rawEntry({ ...at, monotonic: 2_000 }, [98, 97, 100, 32, 0xff, 0xfd]),
      rawEntry({ ...at, monotonic: 3_000 }, utf8("rtl \u202e evil \u{1f600} \u009b end")),
      rawEntry({ ...at, monotonic: 4_000 }, [...utf8("cut "), 0xe2, 0x82]),
    ];
    const batch = new Uint8Array(entries.reduce((n, e) => n + e.length, 0));
    let offset = 0;
    for (const e of entries) {
      batch.set(e, offset);
      offset += e.length;
    }
    await receive(dir, [batch]);
    const search = await runProgram([SCRIPT, "--directory", dir]);
    assertEquals(search.code, 0, search.stderr);
    assertEquals(
      search.stdout.trimEnd().split("\n").map((line) =>
        line.replace(/^\S+ alpha devops-logs-test\[42\]: /, "")
      ),
      [
        "café ?[31mred",
        "bad \ufffd\ufffd",
        "bad \ufffd\ufffd",
        "rtl ? evil \u{1f600} ? end",
        "cut \ufffd",
      ],
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("received logs: our options stand anywhere; options that change journalctl's output are refused, others pass", async () => {
  const dir = await Deno.makeTempDir({ prefix: "received-" });
  try {
    const host = { machine: id(), boot: id(), host: "alpha" };
    await receive(dir, [
      exportText([{ ...host, monotonic: 1, realtime: Date.now() * 1000, message: "one" }]),
    ]);
    // --json after a match, -D for the folder.
    const json = await runProgram([SCRIPT, "_HOSTNAME=alpha", "-D", dir, "--json"]);
    assertEquals(json.code, 0, json.stderr);
    assertEquals(JSON.parse(json.stdout).MESSAGE, "one");
    for (
      const refused of [["-o", "cat"], ["-rocat"], ["-F", "_HOSTNAME"], ["--fields"], ["-h"], [
        "--output-fields=MESSAGE",
      ], ["--list-boots"]]
    ) {
      const result = await runProgram([SCRIPT, "--directory", dir, "_HOSTNAME=alpha", ...refused]);
      assertEquals(result.code, 2, `${refused.join(" ")}: ${result.stdout}${result.stderr}`);
      assertMatch(result.stderr, /^received-logs: \S+ changes what journalctl prints; .*\n$/);
    }
    // A unit name holding an "o" is a value, not -o.
    for (const passed of [["-u", "postfix"], ["-upostfix"], ["-r"], ["--no-hostname"]]) {
      const result = await runProgram([SCRIPT, "--directory", dir, ...passed]);
      assertEquals(result.code, 0, `${passed.join(" ")}: ${result.stderr}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("received logs: a missing folder, an output option and journalctl's own refusal each fail with one line", async () => {
  const missing = await runProgram([SCRIPT, "--directory", "/nonexistent/received"]);
  assertEquals(missing.code, 1);
  assertMatch(
    missing.stderr,
    /^received-logs: no received journals at \/nonexistent\/received; .*\n$/,
  );

  const dir = await Deno.makeTempDir({ prefix: "received-" });
  try {
    const output = await runProgram([SCRIPT, "--directory", dir, "--output=cat"]);
    assertEquals(output.code, 2);
    assertMatch(
      output.stderr,
      /^received-logs: --output=cat changes what journalctl prints; .*\n$/,
    );

    // journalctl's exit status and message come through, not jq's success.
    const refused = await runProgram([SCRIPT, "--directory", dir, "--no-such-option"]);
    assertEquals(refused.code, 1);
    assertMatch(refused.stderr, /--no-such-option/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
