import { assertEquals } from "../../testing/assert.ts";
import { readSopsMetadata, readSopsRecipients } from "./sops_metadata.ts";
import { runProgramOk } from "../../testing/run.ts";

const YAML_FILE = `a: ENC[AES256_GCM,data:Tw==,type:int]
sops:
    age:
        - recipient: age1one
          enc: |
            -----BEGIN AGE ENCRYPTED FILE-----
        - recipient: age1two
          enc: x
    pgp:
        - fp: ABCDEF
    lastmodified: "2026-01-01T00:00:00Z"
    mac: ENC[AES256_GCM,data:x]
    version: 3.11.0
`;

Deno.test("readSopsMetadata() reads age, pgp and key groups from YAML and JSON", () => {
  assertEquals(readSopsMetadata(YAML_FILE), {
    age: ["age1one", "age1two"],
    pgp: ["ABCDEF"],
    other: [],
  });
  const json = JSON.stringify({
    a: "ENC[...]",
    sops: {
      mac: "x",
      key_groups: [{ age: [{ recipient: "age1g1" }] }, { age: [{ recipient: "age1g2" }] }],
    },
  });
  assertEquals(readSopsRecipients(json), ["age1g1", "age1g2"]);
});

Deno.test("readSopsRecipients() returns null for plaintext", () => {
  assertEquals(readSopsRecipients("password: hunter2\n"), null);
  assertEquals(readSopsRecipients("not: [valid"), null);
  assertEquals(readSopsRecipients("- a list\n"), null);
  assertEquals(readSopsRecipients("sops: {age: []}\n"), null, "no mac");
  assertEquals(readSopsRecipients("A=1\n"), null);
  assertEquals(readSopsRecipients("[db]\npassword = x\n"), null);
});

Deno.test("readSopsRecipients() reads files sops encrypted as INI, dotenv, JSON and binary", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await runProgramOk(["age-keygen", "-o", `${dir}/k.txt`]);
    const recipient = (await runProgramOk(["age-keygen", "-y", `${dir}/k.txt`])).trim();
    const inputs: Record<string, string> = {
      ini: "[db]\npassword = x\n",
      dotenv: "A=x\n",
      json: '{"a": "x"}\n',
      binary: "raw bytes",
      yaml: "a: x\n",
    };
    for (const [format, plain] of Object.entries(inputs)) {
      const out = await runProgramOk(
        [
          "sops",
          "encrypt",
          "--age",
          recipient,
          "--input-type",
          format,
          "--output-type",
          format,
          "/dev/stdin",
        ],
        { cwd: dir, stdin: plain },
      );
      assertEquals(readSopsRecipients(out), [recipient], format);
    }
    // Key groups and several recipients: the fast line scan agrees with a full YAML parse.
    await runProgramOk(["age-keygen", "-o", `${dir}/k2.txt`]);
    const second = (await runProgramOk(["age-keygen", "-y", `${dir}/k2.txt`])).trim();
    await Deno.writeTextFile(
      `${dir}/.sops.yaml`,
      `creation_rules:\n  - key_groups:\n      - age: [${recipient}]\n      - age: [${second}]\n`,
    );
    const grouped = await runProgramOk([
      "sops",
      "encrypt",
      "--filename-override",
      "a.yaml",
      "/dev/stdin",
    ], {
      cwd: dir,
      stdin: "a: x\n",
    });
    assertEquals(readSopsRecipients(grouped), [recipient, second]);
    assertEquals(readSopsRecipients(`# a comment\n${grouped.replace("sops:", "sops: # x")}`), [
      recipient,
      second,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
