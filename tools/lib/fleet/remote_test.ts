import { assert, assertEquals, assertThrows } from "../../testing/assert.ts";
import { runProgram } from "../../testing/run.ts";
import {
  assembleScript,
  isFinal,
  parsePhase,
  parseProbe,
  parseRemoteState,
  REMOTE_SCRIPTS,
  type RemotePhase,
} from "./remote.ts";

const SOURCES = new URL("./remote/", import.meta.url);

/** Writes `text` to a temp file and runs `argv` with the file's path appended. */
async function onFile(argv: string[], text: string) {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/script.sh`, text);
    return await runProgram([...argv, `${dir}/script.sh`]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("every remote script, as it runs on a host, passes sh -n and shellcheck", async () => {
  assertEquals(Object.keys(REMOTE_SCRIPTS).length, 8);
  for (const [name, text] of Object.entries(REMOTE_SCRIPTS)) {
    assert(!/@[A-Z_]+@|# @include/.test(text), `${name}: a placeholder is left`);
    const syntax = await onFile(["sh", "-n"], text);
    assertEquals(syntax.code, 0, `sh -n ${name}: ${syntax.stderr}`);
    // Debian's shellcheck (tools/testing/install_test_programs.sh installs it), POSIX sh: the
    // scripts run with the target's sh. Every finding not fixed is disabled in the file, with
    // its reason.
    const check = await onFile(["shellcheck", "--shell=sh", "--format=gcc"], text);
    assertEquals([check.code, check.stdout], [0, ""], `shellcheck ${name}`);
  }
});

Deno.test("every file in remote/ is a piece of a script and passes sh -n as written", async () => {
  const files = [];
  for await (const entry of Deno.readDir(SOURCES)) files.push(entry.name);
  files.sort();
  assertEquals(files, [
    "alive.sh",
    "control.sh",
    "health_check.sh",
    "invocations.awk",
    "launcher.sh",
    "poll.sh",
    "probe.sh",
    "show_state.sh",
    "status.sh",
    "supervisor.sh",
    "units_check.sh",
    "units_snapshot.sh",
  ]);
  for (const file of files.filter((f) => f.endsWith(".sh"))) {
    const text = await Deno.readTextFile(new URL(file, SOURCES));
    const syntax = await onFile(["sh", "-n"], text);
    assertEquals(syntax.code, 0, `sh -n ${file}: ${syntax.stderr}`);
  }
});

Deno.test("assembleScript() refuses a name or an include it does not know", () => {
  assertEquals(
    assembleScript("a=@X@\n# @include poll.sh\nb=1\n", { X: 2 }).startsWith("a=2\n#"),
    true,
  );
  assertThrows(() => assembleScript("a=@Y@\n", {}), "no value of Y");
  assertThrows(() => assembleScript("# @include nope.sh\n", {}), "no nope.sh");
});

Deno.test("parsePhase() types every status the supervisor writes; others stay unknown", () => {
  const cases: [string | undefined, RemotePhase, boolean][] = [
    ["starting", { kind: "starting" }, false],
    ["activating", { kind: "activating" }, false],
    ["activated", { kind: "activated" }, false],
    ["rolling-back", { kind: "rolling-back" }, false],
    ["busy", { kind: "busy" }, false],
    ["gone", { kind: "gone" }, false],
    ["confirmed", { kind: "confirmed" }, true],
    ["done", { kind: "done" }, true],
    ["rolled-back-timeout", { kind: "rolled-back", why: "timeout" }, true],
    ["rollback-failed-activation-timeout", {
      kind: "rollback-failed",
      why: "activation-timeout",
    }, true],
    ["superseded-health-check", { kind: "superseded", why: "health-check" }, true],
    ["failed-activation", { kind: "failed", why: "activation" }, true],
    ["failed-", { kind: "unknown", text: "failed-" }, false],
    ["rolled-backwards", { kind: "unknown", text: "rolled-backwards" }, false],
    [undefined, { kind: "unknown", text: "" }, false],
  ];
  for (const [status, phase, final] of cases) {
    assertEquals(parsePhase(status), phase, status);
    assertEquals(isFinal(parsePhase(status)), final, status);
  }
  const state = parseRemoteState("status=rolled-back-timeout\nprev_gen=3\nactive_gen=3\n");
  assertEquals([state.status, state.phase, state.activeGen], [
    "rolled-back-timeout",
    { kind: "rolled-back", why: "timeout" },
    3,
  ]);
});

Deno.test("parseProbe() reads the generation, the system diffed from, and the diff or why it failed", () => {
  assertEquals(parseProbe("gen=7\nprofile=/nix/store/a\ncurrent=/nix/store/b\n"), {
    generation: 7,
    before: "/nix/store/a",
    diff: { kind: "none" },
  });
  assertEquals(
    parseProbe("current=/nix/store/b\n--- closure diff\nhello: 1.0 → 1.1\n\n"),
    { before: "/nix/store/b", diff: { kind: "done", text: "hello: 1.0 → 1.1" } },
  );
  assertEquals(
    parseProbe(
      "gen=x\nprofile=/nix/store/a\n--- closure diff\n--- closure diff failed\nerror: no store\n",
    ),
    { before: "/nix/store/a", diff: { kind: "failed", reason: "error: no store" } },
  );
  assertEquals(
    parseProbe("--- closure diff\n--- closure diff failed\n").diff,
    { kind: "failed", reason: "nix failed" },
  );
});
