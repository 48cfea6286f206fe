import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import { CommandError } from "../lib/errors.ts";
import { shortCause } from "./outcome.ts";

Deno.test("shortCause() puts the cause first in one short line; the command only when verbose", () => {
  const ssh = new CommandError(
    `ssh -p 22 ${"-o X=Y ".repeat(40)}-- root@192.0.2.10 true`,
    255,
    "ssh: connect to host 192.0.2.10 port 22: Connection timed out",
  );
  assertEquals(
    shortCause(ssh, { connectTimeout: 10 }),
    "ssh: connection timed out (10 s) to 192.0.2.10:22",
  );
  assertStringIncludes(shortCause(ssh, { verbose: true }), "(command: ssh -p 22 -o X=Y");
  const nix = new CommandError(
    "nix copy --to x -- /nix/store/a",
    1,
    `${"noise\n".repeat(5)}error: ${"x".repeat(300)}`,
  );
  assert(shortCause(nix).length <= 160);
  assert(shortCause(nix).startsWith("nix: error: xxx"));
  assertEquals(
    shortCause(new CommandError("ssh a", 124, ""), { timeoutSeconds: 60 }),
    "ssh: timed out after 60 s",
  );
});

Deno.test("shortCause() labels a remote command's own output as the target's, ssh's as ssh's", () => {
  assertEquals(shortCause(new CommandError("ssh -- root@a check", 3, "active")), "target: active");
  assertEquals(
    shortCause(new CommandError("ssh -- root@a check", 1, "")),
    "the target's command exited with code 1",
  );
  assertEquals(
    shortCause(new CommandError("ssh -- root@a check", 255, "Permission denied (publickey).")),
    "ssh: Permission denied (publickey).",
  );
});
