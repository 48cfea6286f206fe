import { assertEquals, assertThrows } from "../testing/assert.ts";
import { fingerprint, keyFromKeyscan, knownHostsText, parsePublicKey } from "./known_hosts.ts";

Deno.test("knownHostsText() keys each line by the host's name (HostKeyAlias), never by address", () => {
  const key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEq";
  assertEquals(
    knownHostsText([
      { host: "a", address: "192.0.2.1", port: 22, key },
      { host: "b", address: "192.0.2.1", port: 2222, key },
    ]),
    `a ${key}\nb ${key}\n`,
  );
});

Deno.test("parsePublicKey() keeps type and key, drops the comment, refuses other key types", () => {
  assertEquals(parsePublicKey("ssh-ed25519 AAAAC3Nz root@web1\n", "f"), "ssh-ed25519 AAAAC3Nz");
  assertThrows(
    () => parsePublicKey("ssh-rsa AAAAB3Nz", "configurations/x/k.pub"),
    'Invalid host key in "configurations/x/k.pub"',
  );
});

Deno.test("fingerprint() matches ssh-keygen -lf", async () => {
  const dir = await Deno.makeTempDir();
  const gen = await new Deno.Command("ssh-keygen", {
    args: ["-q", "-t", "ed25519", "-N", "", "-f", `${dir}/k`],
  }).output();
  assertEquals(gen.success, true);
  const pub = await Deno.readTextFile(`${dir}/k.pub`);
  const listed = await new Deno.Command("ssh-keygen", {
    args: ["-lf", `${dir}/k.pub`],
    stdout: "piped",
  }).output();
  const expected = new TextDecoder().decode(listed.stdout).split(" ")[1];
  assertEquals(await fingerprint(pub), expected);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("keyFromKeyscan() finds the Ed25519 line among comments", () => {
  assertEquals(
    keyFromKeyscan("# 127.0.0.2:22 SSH-2.0-OpenSSH\n127.0.0.2 ssh-ed25519 AAAAC3Nz\n"),
    "ssh-ed25519 AAAAC3Nz",
  );
  assertEquals(keyFromKeyscan(""), undefined);
});
