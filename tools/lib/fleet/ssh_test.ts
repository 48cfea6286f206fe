import { assert, assertEquals, assertStringIncludes } from "../../testing/assert.ts";
import {
  classifySshFailure,
  hostKeyMismatch,
  sshExecArgv,
  type SshFailure,
  sshOptions,
} from "./mod.ts";

const TARGET = { host: "nas1", address: "10.0.0.5", port: 2222, user: "root" };
const CTX = { knownHostsFile: "/tmp/kh", connectTimeout: 5, extraOptions: [] };

Deno.test("sshExecArgv() puts the pinning first, so extra options cannot weaken it, and ends with --", () => {
  const argv = sshExecArgv(TARGET, { ...CTX, extraOptions: ["StrictHostKeyChecking=no"] }, [
    "readlink",
    "-f",
    "/run/current-system",
  ]);
  assertEquals(argv.slice(0, 3), ["ssh", "-p", "2222"]);
  assertEquals(argv.slice(-3), ["--", "root@10.0.0.5", "readlink -f /run/current-system"]);
  const options = argv.filter((_, i) => argv[i - 1] === "-o");
  assertEquals(options.slice(0, 6), [
    "UserKnownHostsFile=/tmp/kh",
    "GlobalKnownHostsFile=/dev/null",
    "HostKeyAlias=nas1",
    "CheckHostIP=no",
    "StrictHostKeyChecking=yes",
    "UpdateHostKeys=no",
  ]);
  assert(
    options.indexOf("StrictHostKeyChecking=no") > options.indexOf("StrictHostKeyChecking=yes"),
  );
  assert(options.includes("ControlPath=none"), "a new connection: never the user's master");
  assertEquals(options.at(-1), "StrictHostKeyChecking=no");
});

Deno.test("sshOptions(): shared goes through the control socket, new never through a master", () => {
  const ctx = { ...CTX, controlDir: "/run/x" };
  const shared = sshOptions(TARGET, ctx, "shared");
  assert(shared.includes("ControlPath=/run/x/nas1.sock") && shared.includes("ControlMaster=no"));
  assert(sshOptions(TARGET, ctx, "new").includes("ControlPath=none"));
  assert(sshOptions(TARGET, CTX, "shared").includes("ControlPath=none"), "no control folder");
});

Deno.test("classifySshFailure() types what ssh said", () => {
  const cases: [string, SshFailure["kind"]][] = [
    [
      "@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.",
      "host-key-mismatch",
    ],
    [
      "No ED25519 host key is known for nas1 and you have requested strict checking.\nHost key verification failed.",
      "host-key-mismatch",
    ],
    ["ssh: connect to host 10.0.0.5 port 22: Connection refused", "refused"],
    ["ssh: connect to host 10.0.0.5 port 22: Connection timed out", "timed-out"],
    ["ssh: connect to host 10.0.0.5 port 22: No route to host", "unreachable"],
    ["ssh: Could not resolve hostname nas1.lan: Name or service not known", "unreachable"],
    ["kex_exchange_identification: read: Connection reset by peer", "unreachable"],
    ["root@10.0.0.5: Permission denied (publickey).", "auth"],
    ["something else", "other"],
  ];
  for (const [stderr, kind] of cases) assertEquals(classifySshFailure(stderr).kind, kind, stderr);
  assertEquals(
    classifySshFailure("warning: x\nssh: connect to host h port 22: Connection refused\n"),
    {
      kind: "refused",
      detail: "ssh: connect to host h port 22: Connection refused",
    },
  );
});

Deno.test("hostKeyMismatch() is one line naming both fingerprints, the pinned file and what to do", () => {
  const text = hostKeyMismatch({
    host: "nas1",
    address: "10.0.0.5",
    port: 22,
    expected: "SHA256:aaa",
    presented: "SHA256:bbb",
  });
  assertEquals(text.split("\n").length, 1);
  assertStringIncludes(text, 'Host key mismatch for "nas1" at 10.0.0.5:22: expected SHA256:aaa');
  assertStringIncludes(text, "configurations/nas1/ssh_host_ed25519_key.pub");
  assertStringIncludes(text, "the host presented SHA256:bbb");
  assertStringIncludes(text, "commit its new key");
  assertStringIncludes(
    hostKeyMismatch({
      host: "h",
      address: "a",
      port: 1,
      expected: undefined,
      presented: undefined,
    }),
    "expected (none)",
  );
});
