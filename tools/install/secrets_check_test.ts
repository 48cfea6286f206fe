import { assertEquals, assertThrows } from "../testing/assert.ts";
import { diskPassphrases, passphraseProblem, zfsPassphraseProblem } from "./secrets_check.ts";

const context = { host: "box1", secretsFile: "secrets/box1.yaml" };

Deno.test("diskPassphrases() takes string values and names the missing one", () => {
  const secrets = { "disk-encryption-keys": { "/tmp/a.key": "pass-a" } };
  assertEquals(diskPassphrases(secrets, ["/tmp/a.key"], context), ["pass-a"]);
  assertThrows(
    () => diskPassphrases(secrets, ["/tmp/b.key"], context),
    `secrets/box1.yaml has no disk passphrase ["disk-encryption-keys"]["/tmp/b.key"]`,
  );
});

Deno.test("diskPassphrases() refuses a passphrase YAML read as a number, saying to quote it, without printing it", () => {
  // `/tmp/a.key: 0123456789` is the number 123456789 to YAML: writing it would be the wrong key.
  const secrets = { "disk-encryption-keys": { "/tmp/a.key": 123456789 } };
  const error = assertThrows(() => diskPassphrases(secrets, ["/tmp/a.key"], context));
  assertEquals(
    error.message,
    `Cannot install host "box1": the disk passphrase ["disk-encryption-keys"]["/tmp/a.key"] in secrets/box1.yaml is a number, not a string; quote it in sops edit secrets/box1.yaml`,
  );
});

Deno.test("passphraseProblem() refuses blank values, NUL bytes and line breaks; keeps spaces, unicode and shell characters", () => {
  for (const blank of [" ", "   ", "\n", "\t\r\n"]) {
    assertEquals(passphraseProblem(blank)?.startsWith("is blank"), true, JSON.stringify(blank));
  }
  assertEquals(passphraseProblem("pa\0ss")?.startsWith("holds a NUL byte"), true);
  for (const broken of ["pass-one\n", "pass\r\nword", "a\nb"]) {
    assertEquals(passphraseProblem(broken)?.startsWith("holds a line break"), true, broken);
  }
  for (const fine of [" pass ", "pässwört-🔑", "$(touch x);`id`'\"", "k".repeat(4096)]) {
    assertEquals(passphraseProblem(fine), undefined, fine);
  }
});

Deno.test("zfsPassphraseProblem() takes 8 to 512 bytes, counted in UTF-8", () => {
  assertEquals(zfsPassphraseProblem("1234567")?.startsWith("is 7 bytes"), true);
  assertEquals(zfsPassphraseProblem("12345678"), undefined);
  assertEquals(zfsPassphraseProblem("ääää"), undefined); // 8 bytes
  assertEquals(zfsPassphraseProblem("k".repeat(512)), undefined);
  assertEquals(zfsPassphraseProblem("k".repeat(513))?.startsWith("is 513 bytes"), true);
  // Only for the paths named as ZFS passphrases.
  const secrets = { "disk-encryption-keys": { "/tmp/a.key": "short", "/tmp/z.key": "short" } };
  assertEquals(diskPassphrases(secrets, ["/tmp/a.key"], context), ["short"]);
  assertThrows(
    () =>
      diskPassphrases(secrets, ["/tmp/z.key"], { ...context, zfsPassphrasePaths: ["/tmp/z.key"] }),
    "is 5 bytes, and a ZFS passphrase",
  );
});
