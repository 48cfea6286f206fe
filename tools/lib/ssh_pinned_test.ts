import { assertEquals } from "../testing/assert.ts";
import { runProgramOk } from "../testing/run.ts";
import { classifySshFailure, fingerprint, knownHostsLine, pinnedSshArgv } from "./ssh_pinned.ts";

const TARGET = {
  alias: "nas1",
  address: "10.0.0.5",
  port: 2222,
  user: "root",
  publicKey:
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG8Ww0Y0h2z0rWmZ3m3ZJ1h1kP0Ii2pR3y4e5f6g7h8i root@nas1",
};

Deno.test("fingerprint() is what ssh-keygen -l shows", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await runProgramOk(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", `${dir}/k`]);
    const line = await Deno.readTextFile(`${dir}/k.pub`);
    const shown = (await runProgramOk(["ssh-keygen", "-l", "-f", `${dir}/k.pub`])).split(" ")[1];
    assertEquals(fingerprint(line), shown);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("pinnedSshArgv() puts the pinning first, so extra options cannot weaken it, and ends with --", () => {
  const argv = pinnedSshArgv(TARGET, "/tmp/kh", ["readlink", "-f", "/run/current-system"], {
    connectTimeout: 5,
    extraOptions: ["StrictHostKeyChecking=no"],
  });
  assertEquals(argv, [
    "ssh",
    "-o",
    "UserKnownHostsFile=/tmp/kh",
    "-o",
    "GlobalKnownHostsFile=/dev/null",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "HostKeyAlias=nas1",
    "-o",
    "UpdateHostKeys=no",
    "-o",
    "CheckHostIP=no",
    "-o",
    "BatchMode=yes",
    "-o",
    "ConnectTimeout=5",
    "-o",
    "StrictHostKeyChecking=no",
    "-p",
    "2222",
    "root@10.0.0.5",
    "--",
    "readlink -f /run/current-system",
  ]);
  assertEquals(
    knownHostsLine(TARGET),
    `nas1 ${TARGET.publicKey.split(" ").slice(0, 2).join(" ")}\n`,
  );
});

Deno.test("classifySshFailure() tells a changed host key from an unreachable host", () => {
  assertEquals(
    classifySshFailure(
      "@@@ WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED! @@@\nHost key verification failed.",
    ).kind,
    "host-key-mismatch",
  );
  assertEquals(classifySshFailure("ssh: connect to host 10.0.0.5 port 22: Connection refused"), {
    kind: "unreachable",
    detail: "ssh: connect to host 10.0.0.5 port 22: Connection refused",
  });
  assertEquals(classifySshFailure("root@10.0.0.5: Permission denied (publickey).").kind, "auth");
});
