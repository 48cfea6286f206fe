import { assertEquals, assertThrows } from "../testing/assert.ts";
import { diskPassphrases } from "./secrets_check.ts";

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
