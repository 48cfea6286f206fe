import { assert, assertEquals, assertRejects, assertThrows } from "../../testing/assert.ts";
import { bech32 } from "@scure/base";
import {
  ageRecipientFromSshPublicKeyFile,
  ed25519PublicKeyToAge,
  isAgeRecipient,
  parseSshEd25519PublicKey,
  sshPrivateKeyToAgeIdentity,
  sshPublicKeyToAge,
} from "./age_keys.ts";
import { runProgramOk } from "../../testing/run.ts";

function run(argv: string[], stdin?: string): Promise<string> {
  return runProgramOk(argv, stdin === undefined ? {} : { stdin });
}

/** A fresh ed25519 key made by the real ssh-keygen. */
export async function sshKeygen(dir: string, type = "ed25519"): Promise<string> {
  const path = `${dir}/key_${type}_${crypto.randomUUID().slice(0, 6)}`;
  await run(["ssh-keygen", "-q", "-t", type, "-N", "", "-C", "test", "-f", path]);
  return path;
}

Deno.test("sshPublicKeyToAge() and sshPrivateKeyToAgeIdentity() agree with age-keygen and age", async () => {
  const dir = await Deno.makeTempDir();
  for (let i = 0; i < 3; i++) {
    const key = await sshKeygen(dir);
    const recipient = sshPublicKeyToAge(await Deno.readTextFile(`${key}.pub`));
    const identity = sshPrivateKeyToAgeIdentity(await Deno.readTextFile(key));
    assert(isAgeRecipient(recipient), recipient);
    assert(identity.startsWith("AGE-SECRET-KEY-1"), "identity is upper-case bech32");
    // age-keygen -y derives the public key from the TS-derived secret key.
    await Deno.writeTextFile(`${dir}/identity.txt`, `${identity}\n`);
    assertEquals((await run(["age-keygen", "-y", `${dir}/identity.txt`])).trim(), recipient);
    // Encrypt to the TS-derived recipient with age, decrypt with the TS-derived identity.
    const armored = await run(["age", "-a", "-r", recipient], "the secret\n");
    assertEquals(await run(["age", "-d", "-i", `${dir}/identity.txt`], armored), "the secret\n");
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("ed25519PublicKeyToAge() computes u = (1+y)/(1-y) mod 2^255-19", async () => {
  const dir = await Deno.makeTempDir();
  const key = await sshKeygen(dir);
  const publicKey = parseSshEd25519PublicKey(await Deno.readTextFile(`${key}.pub`));
  const p = 2n ** 255n - 19n;
  const le = (bytes: Uint8Array) => bytes.reduceRight((n, b) => (n << 8n) | BigInt(b), 0n);
  const y = le(publicKey) & ((1n << 255n) - 1n);
  const pow = (b: bigint, e: bigint): bigint => {
    let r = 1n;
    for (b %= p; e > 0n; e >>= 1n, b = (b * b) % p) if (e & 1n) r = (r * b) % p;
    return r;
  };
  const u = ((1n + y) * pow((1n - y + p) % p, p - 2n)) % p;
  const bytes = new Uint8Array(32).map((_, i) => Number((u >> BigInt(8 * i)) & 0xffn));
  assertEquals(ed25519PublicKeyToAge(publicKey), bech32.encode("age", bech32.toWords(bytes)));
  await Deno.remove(dir, { recursive: true });
});

Deno.test("sshPublicKeyToAge() rejects non-ed25519 and malformed keys with the cause", async () => {
  const dir = await Deno.makeTempDir();
  const rsa = await sshKeygen(dir, "rsa");
  assertThrows(() => sshPublicKeyToAge(Deno.readTextFileSync(`${rsa}.pub`)), "not an ed25519 key");
  assertThrows(() => sshPublicKeyToAge("ssh-ed25519 !!!notbase64"), "base64");
  assertThrows(() => sshPublicKeyToAge("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAAQ=="), "truncated");
  assertThrows(() => sshPublicKeyToAge(""), "not an OpenSSH public key line");
  assertThrows(() => sshPrivateKeyToAgeIdentity("nope"), "not an OpenSSH private key");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("ageRecipientFromSshPublicKeyFile() names the file in one line", async () => {
  const dir = await Deno.makeTempDir();
  const rsa = await sshKeygen(dir, "rsa");
  const e1 = await assertRejects(() => ageRecipientFromSshPublicKeyFile(`${rsa}.pub`));
  assertEquals(e1.message, `Cannot use host key ${rsa}.pub: not an ed25519 key (type "ssh-rsa")`);
  await assertRejects(
    () => ageRecipientFromSshPublicKeyFile(`${dir}/missing.pub`),
    Error,
    `Cannot read host key ${dir}/missing.pub: no such file`,
  );
  await Deno.writeTextFile(`${dir}/bad.pub`, "garbage\n");
  await assertRejects(() => ageRecipientFromSshPublicKeyFile(`${dir}/bad.pub`), Error, "bad.pub");
  await Deno.remove(dir, { recursive: true });
});
