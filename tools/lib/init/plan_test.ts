// planInit() and its helpers on plain data: the example state's steps, a made-yours state's
// none, the choices it refuses, and the names, keys and commands it writes.
import { assert, assertEquals, assertMatch, assertThrows } from "../../testing/assert.ts";
import { parseSopsConfig, type RepoState } from "../sops/mod.ts";
import {
  type InitChoices,
  type InitInput,
  planInit,
  renderAdminsNix,
  replaceCommand,
  sanitizeAdminName,
  valueKeys,
} from "./plan.ts";

// Real-format age recipients (32-byte payloads), made with age-keygen once.
const EXAMPLE = "age1qdhgjkerrqtfpare5cajs0cjmphmczlq3uxs49fckrpxz690jvzsne4mtq";
const DEV_VM_OLD = "age1hvew7v7ddm2msn9yk37skfv98xup28zkfmww86pfeznreg3y3azs3xvhtj";
const NAS1 = "age1tfc3syxgte75yuekururxw3qnztz2kknfleduqfpc3l7thyenfwq62pvty";
const ME = "age1x5a58mqce4l0cduh567ge965whqnpuyffjkt7yu8fscekv3h09aqy28edy";
const DEV_VM_PUB =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICG6cG7Bu1s6g0+88iGoXjMSTrChUyIATKi4seOeROdx root@dev-vm";

const CONFIG = `keys:
  # EXAMPLE admin key: its private half is public in
  # configurations/dev-vm/EXAMPLE-admin-age-key.txt. Replace it, then rekey.
  - &admin_example ${EXAMPLE}
  - &host_dev-vm ${DEV_VM_OLD}
  - &host_nas1 ${NAS1}
creation_rules:
  - path_regex: ^secrets/dev-vm\\.yaml$
    key_groups:
      - age:
          - *admin_example
          - *host_dev-vm
  - path_regex: ^secrets/nas1\\.yaml$
    key_groups:
      - age:
          - *admin_example
          - *host_nas1
  - path_regex: ^secrets/shared\\.yaml$
    key_groups:
      - age:
          - *admin_example
          - *host_dev-vm
          - *host_nas1
`;

function sopsFile(values: string, recipients: string[]): string {
  return `${values}sops:\n    age:\n${
    recipients.map((r) => `        - recipient: ${r}\n          enc: x\n`).join("")
  }    mac: ENC[x]\n    version: 3.11.0\n`;
}

function exampleInput(): InitInput {
  const texts = new Map([
    ["secrets/dev-vm.yaml", sopsFile("example-secret: ENC[x]\n", [EXAMPLE, DEV_VM_OLD])],
    ["secrets/nas1.yaml", sopsFile("kopia-password: ENC[x]\n", [EXAMPLE, NAS1])],
    [
      "secrets/shared.yaml",
      sopsFile("token: ENC[x]\npasswords:\n    sam: ENC[x]\n", [EXAMPLE, DEV_VM_OLD, NAS1]),
    ],
  ]);
  const state: RepoState = {
    config: parseSopsConfig(CONFIG),
    hostKeys: new Map([["dev-vm", DEV_VM_OLD], ["nas1", NAS1]]),
    files: [...texts].map(([path, text]) => ({
      path,
      metadata: { age: text.match(/age1[0-9a-z]+/g)!, pgp: [], other: [] },
    })),
  };
  return {
    state,
    layout: [
      "configurations/dev-vm/default.nix",
      "configurations/nas1/default.nix",
      "configurations/nas1/deploy.nix",
    ],
    indexes: new Map(),
    adminsNix: '{\n  example = {\n    sshKeys = [ "ssh-ed25519 AAAA example-admin" ];\n  };\n}\n',
    desk1Nix: undefined,
    exampleAdminRecipient: EXAMPLE,
    exampleHostRecipient: DEV_VM_OLD,
    committedPublicKeys: [],
    committedSecrets: new Map(),
    secretTexts: texts,
  };
}

const CHOICES: InitChoices = {
  adminName: "me",
  adminRecipient: ME,
  sshKeyLine: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEEW0n me@laptop",
  devVm: "new-key",
  devVmPublicLine: DEV_VM_PUB,
  keepExamples: false,
  keepExampleUser: false,
};

Deno.test("planInit() on the example state: the owner in, the examples out, every file rotated, keys deleted last", () => {
  const plan = planInit(exampleInput(), CHOICES);
  const steps = plan.keys.steps.map((s) => `${s.kind} ${s.path}`);
  assertEquals(steps[0], "write .sops.yaml");
  for (
    const expected of [
      "write configurations/dev-vm/ssh_host_ed25519_key.pub",
      "remove configurations/nas1/default.nix",
      "remove configurations/nas1/deploy.nix",
      "remove secrets/nas1.yaml",
      "write lib/admins.nix",
      "rekey secrets/dev-vm.yaml",
      "rekey secrets/shared.yaml",
    ]
  ) assert(steps.includes(expected), `${expected} in ${steps.join(", ")}`);
  assert(plan.keys.steps.every((s) => s.kind !== "rekey" || s.rotate), "every rekey rotates");
  const config = plan.keys.targetConfig;
  assert(!config.includes("EXAMPLE") && !config.includes("admin_example"), config);
  assert(!config.includes("nas1"), config);
  assertMatch(config, new RegExp(`&admin_me ${ME}`));
  assertEquals(plan.cleanup.steps.map((s) => `${s.kind} ${s.path}`), [
    "remove configurations/dev-vm/EXAMPLE-admin-age-key.txt",
    "remove configurations/dev-vm/example_ssh_host_ed25519_key",
  ]);
  assertEquals(plan.publicValues.map((v) => `${v.path} ${v.key}: ${v.command}`), [
    'secrets/dev-vm.yaml ["example-secret"]: sops edit secrets/dev-vm.yaml',
    'secrets/shared.yaml ["passwords"]["sam"]: sops edit secrets/shared.yaml',
    'secrets/shared.yaml ["token"]: sops edit secrets/shared.yaml',
  ]);
});

Deno.test("planInit() --dev-vm remove takes dev-vm's key away instead", () => {
  const plan = planInit(exampleInput(), { ...CHOICES, devVm: "remove" });
  const steps = plan.keys.steps.map((s) => `${s.kind} ${s.path}`);
  assert(steps.includes("remove configurations/dev-vm/ssh_host_ed25519_key.pub"), steps.join());
  assert(!plan.keys.targetConfig.includes("host_dev-vm"), plan.keys.targetConfig);
  assertMatch(plan.notes.join("\n"), /secrets host add dev-vm/);
});

Deno.test("planInit() on a state init made already plans nothing", () => {
  const input = exampleInput();
  const first = planInit(input, CHOICES);
  const config = parseSopsConfig(first.keys.targetConfig);
  // The state after the run, as readRepoState would read it.
  const devVm = first.keys.targetConfig.match(/&host_dev-vm (age1[0-9a-z]+)/)![1]!;
  const after: InitInput = {
    ...input,
    state: {
      config,
      hostKeys: new Map([["dev-vm", devVm]]),
      files: ["secrets/dev-vm.yaml", "secrets/shared.yaml"].map((path) => ({
        path,
        metadata: { age: [ME, devVm], pgp: [], other: [] },
      })),
    },
    layout: ["configurations/dev-vm/default.nix"],
    indexes: new Map(
      first.keys.steps.filter((s) => s.kind === "write" && s.path.endsWith("configurations.nix"))
        .map((s) => [s.path, (s as { content: string }).content]),
    ),
    adminsNix: renderAdminsNix("me", CHOICES.sshKeyLine!),
    exampleAdminRecipient: undefined,
    exampleHostRecipient: undefined,
    secretTexts: new Map(),
  };
  const { devVmPublicLine: _, ...rest } = CHOICES;
  const again = planInit(after, rest);
  // Only the indexes this test did not give (the ones of other folders) could be left.
  assertEquals(
    again.keys.steps.filter((s) => !s.path.endsWith(".nix") || s.path === "lib/admins.nix"),
    [],
  );
  assertEquals(again.cleanup.steps, []);
});

Deno.test("planInit() refuses the example key as yours and the example user without desk1", () => {
  assertThrows(
    () => planInit(exampleInput(), { ...CHOICES, adminRecipient: EXAMPLE }),
    "it is the committed example key",
  );
  assertThrows(
    () => planInit(exampleInput(), { ...CHOICES, keepExampleUser: true }),
    "pass --keep-examples too",
  );
});

Deno.test("sanitizeAdminName() makes a host-name-like name from a person's name", () => {
  assertEquals(sanitizeAdminName("Zoë O'Brien"), "zoe-o-brien");
  assertEquals(sanitizeAdminName("  alice  "), "alice");
  assertEquals(sanitizeAdminName("42 admins"), "admins");
  assertEquals(sanitizeAdminName("example"), undefined);
  assertEquals(sanitizeAdminName("李"), undefined);
});

Deno.test("renderAdminsNix() quotes the key line for a Nix string", () => {
  const text = renderAdminsNix("me", 'ssh-ed25519 AAAA a"b${c}\\d');
  assert(text.includes('"ssh-ed25519 AAAA a\\"b\\${c}\\\\d"'), text);
});

Deno.test("valueKeys() lists sops indexes of every value but the metadata", () => {
  assertEquals(
    valueKeys("a: ENC[x]\nb:\n    c/d: ENC[x]\nsops:\n    mac: x\n"),
    ['["a"]', '["b"]["c/d"]'],
  );
});

Deno.test("replaceCommand() names the password command, --remove for a removed user", () => {
  assertEquals(
    replaceCommand("secrets/desk1.yaml", '["passwords"]["admin"]', {
      hosts: ["desk1"],
      removedUsers: ["sam"],
    }),
    "deno task secrets password admin --host desk1",
  );
  assertEquals(
    replaceCommand("secrets/desk1.yaml", '["passwords"]["sam"]', {
      hosts: ["desk1"],
      removedUsers: ["sam"],
    }),
    "deno task secrets password sam --remove --host desk1",
  );
  assertEquals(
    replaceCommand("secrets/shared.yaml", '["passwords"]["sam"]', { hosts: ["desk1"] }),
    "sops edit secrets/shared.yaml",
  );
});
