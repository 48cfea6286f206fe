import { assertEquals, assertThrows } from "../../testing/assert.ts";
import { runProgramOk } from "../../testing/run.ts";
import { fingerprint, keyFromKeyscan, knownHostsText, parseHostKey, publicKeyBody } from "./mod.ts";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG8Ww0Y0h2z0rWmZ3m3ZJ1h1kP0Ii2pR3y4e5f6g7h8i";

Deno.test("knownHostsText() keys each line by the host's name (HostKeyAlias), never by address", () => {
  assertEquals(
    knownHostsText([{ host: "a", key: KEY }, { host: "b", key: `${KEY} root@b` }]),
    `a ${KEY}\nb ${KEY}\n`,
  );
});

Deno.test("parseHostKey() keeps type and key, drops the comment, refuses other key types", () => {
  assertEquals(parseHostKey(`${KEY} root@web1\n`, "f"), KEY);
  for (const bad of ["ssh-rsa AAAAB3Nz", "ssh-ed25519", "ssh-ed25519 not;base64", ""]) {
    assertThrows(
      () => parseHostKey(bad, "configurations/x/k.pub"),
      'Invalid host key in "configurations/x/k.pub": expected "ssh-ed25519 AAAA…"',
    );
  }
});

Deno.test("publicKeyBody() reads any OpenSSH key line and names the file of one that is not", () => {
  assertEquals(publicKeyBody("ssh-rsa AAAAB3Nz x@y"), "ssh-rsa AAAAB3Nz");
  assertEquals(publicKeyBody(`${KEY}\n`), KEY);
  assertThrows(() => publicKeyBody("AGE-SECRET-KEY-1", "k.pub"), 'public key in "k.pub"');
  assertThrows(() => publicKeyBody("-----BEGIN OPENSSH PRIVATE KEY-----"), "not an OpenSSH key");
});

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

Deno.test("keyFromKeyscan() finds the Ed25519 line among comments and other key types", () => {
  assertEquals(
    keyFromKeyscan(
      "# 127.0.0.2:22 SSH-2.0-OpenSSH\n127.0.0.2 ssh-rsa AAAAB3Nz\n127.0.0.2 ssh-ed25519 AAAAC3Nz\n",
    ),
    "ssh-ed25519 AAAAC3Nz",
  );
  assertEquals(keyFromKeyscan("# 127.0.0.2 ssh-ed25519 AAAAC3Nz\n"), undefined);
  assertEquals(keyFromKeyscan(""), undefined);
});
