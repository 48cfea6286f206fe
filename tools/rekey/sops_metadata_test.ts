import { assertEquals } from "../testing/assert.ts";
import { readSopsRecipients } from "./sops_metadata.ts";

const YAML_FILE = `a: ENC[AES256_GCM,data:Tw==,type:int]
sops:
    age:
        - recipient: age1one
          enc: |
            -----BEGIN AGE ENCRYPTED FILE-----
        - recipient: age1two
          enc: x
    lastmodified: "2026-01-01T00:00:00Z"
    mac: ENC[AES256_GCM,data:x]
    version: 3.11.0
`;

Deno.test("readSopsRecipients() reads age recipients from YAML, JSON and key groups", () => {
  assertEquals(readSopsRecipients(YAML_FILE, "secrets/a.yaml"), ["age1one", "age1two"]);
  const json = JSON.stringify({
    a: "ENC[...]",
    sops: {
      mac: "x",
      key_groups: [{ age: [{ recipient: "age1g1" }] }, { age: [{ recipient: "age1g2" }] }],
    },
  });
  assertEquals(readSopsRecipients(json, "secrets/a.json"), ["age1g1", "age1g2"]);
  const env = "A=ENC[x]\nsops_age__list_0__map_recipient=age1env\nsops_mac=ENC[x]\n";
  assertEquals(readSopsRecipients(env, "secrets/a.env"), ["age1env"]);
});

Deno.test("readSopsRecipients() returns null for plaintext", () => {
  assertEquals(readSopsRecipients("password: hunter2\n", "secrets/a.yaml"), null);
  assertEquals(readSopsRecipients("not: [valid", "secrets/a.yaml"), null);
  assertEquals(readSopsRecipients("- a list\n", "secrets/a.yaml"), null);
  assertEquals(readSopsRecipients("sops: {age: []}\n", "secrets/a.yaml"), null, "no mac");
  assertEquals(readSopsRecipients("A=1\n", "secrets/a.env"), null);
});
