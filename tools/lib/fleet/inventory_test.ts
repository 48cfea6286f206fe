import { assertEquals, assertThrows } from "../../testing/assert.ts";
import { UsageError } from "../errors.ts";
import {
  addressProblem,
  collectSshOption,
  hostFiles,
  loadPinnedKeys,
  normalizeAddress,
  portProblem,
  sshOptionProblem,
} from "./mod.ts";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG8Ww0Y0h2z0rWmZ3m3ZJ1h1kP0Ii2pR3y4e5f6g7h8i";

Deno.test("hostFiles() names a host's key, disk layout and secrets in the repository", () => {
  assertEquals(hostFiles("nas1"), {
    publicKey: "configurations/nas1/ssh_host_ed25519_key.pub",
    disko: "configurations/nas1/disko.nix",
    secrets: "secrets/nas1.yaml",
  });
});

Deno.test("loadPinnedKeys() reads each host's key and names the first one missing", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/configurations/a`, { recursive: true });
    await Deno.writeTextFile(`${root}/${hostFiles("a").publicKey}`, `${KEY} root@a\n`);
    assertEquals([...(await loadPinnedKeys(root, ["a"])).values()], [{ host: "a", key: KEY }]);
    const error = await loadPinnedKeys(root, ["a", "b"], "Cannot deploy").catch((e) => e);
    assertEquals(error instanceof UsageError, true);
    assertEquals(
      error.message,
      'Cannot deploy "b": no pinned host key, configurations/b/ssh_host_ed25519_key.pub is missing',
    );
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("addressProblem() is one check for every tool: names, IPv4, IPv6 (bracketed too)", () => {
  for (const ok of ["nas1", "nas1.example.org", "192.0.2.1", "2001:db8::1", "[2001:db8::1]"]) {
    assertEquals(addressProblem(ok), undefined, ok);
  }
  assertEquals(normalizeAddress("[fe80::1%eth0]"), "fe80::1%eth0");
  assertEquals(addressProblem("[192.0.2.1]"), "brackets are for IPv6 addresses only");
  for (const bad of ["", "-oProxyCommand=x", "root@h", "a b", "0.0.0.0", "::", "1.2.3.04"]) {
    assertEquals(typeof addressProblem(bad), "string", bad);
    assertEquals(normalizeAddress(bad), undefined, bad);
  }
});

Deno.test("sshOptionProblem() takes Key=Value in one word, list values whole", () => {
  for (const ok of ["IdentityFile=/k", "ProxyJump=a@j1,b@j2", "Ciphers=aes128-ctr,aes256-ctr"]) {
    assertEquals(sshOptionProblem(ok), undefined, ok);
  }
  for (const bad of ["-oProxyCommand=x", "=x", "Key=", "Key", "ProxyCommand=ssh -W %h:%p j"]) {
    assertEquals(typeof sshOptionProblem(bad), "string", bad);
  }
  assertEquals(collectSshOption("B=2", ["A=1"]), ["A=1", "B=2"]);
  assertThrows(
    () => collectSshOption("-oProxyCommand=x", []),
    'Invalid --ssh-option "-oProxyCommand=x": expected Key=Value without spaces',
  );
});

Deno.test("portProblem() takes 1 to 65535 only", () => {
  for (const ok of ["1", "22", "65535"]) assertEquals(portProblem(ok), undefined, ok);
  for (const bad of ["0", "65536", "-1", "22a", "", "1e3"]) {
    assertEquals(portProblem(bad), "expected a port number (1 to 65535)", bad);
  }
});
