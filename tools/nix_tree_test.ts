// Checks the Nix tree without nixpkgs: every .nix file parses, every index
// points at files that exist, and every host has its keys and deploy facts.
// Run from the repository root: deno test --allow-read --allow-run tools/nix_tree_test.ts
import { pathExists as exists } from "./lib/fs.ts";
import { type ProgramResult, runProgram, runProgramOk } from "./testing/run.ts";

const root = new URL("..", import.meta.url).pathname;

const indexFiles = [
  "configurations/nixos-configurations.nix",
  "configurations/disko-configurations.nix",
  "modules/nixos/nixos-modules.nix",
  "modules/home/home-modules.nix",
  "modules/shared/shared-modules.nix",
  "overlays/overlays.nix",
  "shells/shells.nix",
  "shells/numtide-devshells.nix",
];

const hostFiles = ["default.nix", "deploy.nix"];

/** The installer image makes a new host key at every boot; every other host has a fixed one. */
const hostsWithoutFixedKey = new Set(["iso-headless"]);

function assertEqualsList(actual: string[], expected: string[]) {
  assert(
    JSON.stringify(actual) === JSON.stringify(expected),
    `Expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`,
  );
}

function run(cmd: string, args: string[]): Promise<ProgramResult> {
  return runProgram([cmd, ...args], { cwd: root });
}

function runOk(cmd: string, args: string[]): Promise<string> {
  return runProgramOk([cmd, ...args], { cwd: root });
}

async function evalJson(expression: string): Promise<unknown> {
  const stdout = await runOk("nix-instantiate", [
    "--eval",
    "--strict",
    "--json",
    "-E",
    expression,
  ]);
  return JSON.parse(stdout);
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

async function indexPaths(file: string): Promise<Record<string, string>> {
  const value = await evalJson(
    `builtins.mapAttrs (_name: path: toString path) (import ./${file})`,
  );
  assert(
    typeof value === "object" && value !== null && !Array.isArray(value),
    `Index "${file}" is not an attribute set`,
  );
  return value as Record<string, string>;
}

Deno.test("nix tree: every .nix file parses", async () => {
  const files = (await runOk("git", ["ls-files", "*.nix"]))
    .split("\n")
    .filter((line) => line !== "");
  assert(files.length > 0, "No tracked .nix file found");
  const failures: string[] = [];
  for (const file of files) {
    const result = await run("nix-instantiate", ["--parse", file]);
    if (result.code !== 0) failures.push(`${file}: ${result.stderr.trim()}`);
  }
  assert(failures.length === 0, `Cannot parse:\n${failures.join("\n")}`);
});

Deno.test("nix tree: every index file points at existing paths", async () => {
  for (const file of indexFiles) {
    const entries = await indexPaths(file);
    for (const [name, path] of Object.entries(entries)) {
      assert(
        await exists(path),
        `Index "${file}" names "${name}" = "${path}", which does not exist`,
      );
    }
  }
});

Deno.test("nix tree: every disk layout belongs to a host", async () => {
  const hosts = await indexPaths("configurations/nixos-configurations.nix");
  const disko = await indexPaths("configurations/disko-configurations.nix");
  for (const host of Object.keys(disko)) {
    assert(host in hosts, `Disk layout of "${host}" has no host folder`);
  }
});

Deno.test("nix tree: every host folder has its keys and deploy facts", async () => {
  const hosts = await indexPaths("configurations/nixos-configurations.nix");
  assert(Object.keys(hosts).length > 0, "The hosts index is empty");
  for (const [host, dir] of Object.entries(hosts)) {
    for (const file of hostFiles) {
      assert(
        await exists(`${dir}/${file}`),
        `Host "${host}" has no configurations/${host}/${file}`,
      );
    }
    if (hostsWithoutFixedKey.has(host)) {
      assert(
        !(await exists(`${dir}/ssh_host_ed25519_key.pub`)),
        `Host "${host}" makes its key at boot, so it must not pin one`,
      );
      continue;
    }
    const key = await Deno.readTextFile(`${dir}/ssh_host_ed25519_key.pub`);
    assert(
      /^ssh-ed25519 [A-Za-z0-9+/=]+( .*)?\n?$/.test(key),
      `Host "${host}" has no ed25519 public key in ssh_host_ed25519_key.pub`,
    );
  }
});

Deno.test("nix tree: lib/hosts.nix gives typed deploy facts without inputs", async () => {
  const stdout = await runOk("nix-instantiate", [
    "--eval",
    "--strict",
    "--json",
    "lib/hosts.nix",
  ]);
  const facts = JSON.parse(stdout) as Record<string, Record<string, unknown>>;
  const hosts = await indexPaths("configurations/nixos-configurations.nix");
  assert(
    JSON.stringify(Object.keys(facts).sort()) ===
      JSON.stringify(Object.keys(hosts).sort()),
    "lib/hosts.nix and the hosts index name different hosts",
  );
  const isStringList = (value: unknown) =>
    Array.isArray(value) && value.every((item) => typeof item === "string");
  for (const [host, f] of Object.entries(facts)) {
    const fail = (field: string) => `Host "${host}" has a bad "${field}"`;
    assert(typeof f.deployable === "boolean", fail("deployable"));
    assert(typeof f.address === "string" && f.address !== "", fail("address"));
    assert(
      Number.isInteger(f.port) && (f.port as number) > 0 &&
        (f.port as number) < 65536,
      fail("port"),
    );
    assert(typeof f.user === "string" && f.user !== "", fail("user"));
    assert(isStringList(f.tags), fail("tags"));
    assert(f.buildOn === "local" || f.buildOn === "remote", fail("buildOn"));
    assert(
      Number.isInteger(f.confirmTimeout) && (f.confirmTimeout as number) > 0,
      fail("confirmTimeout"),
    );
    assert(isStringList(f.healthChecks), fail("healthChecks"));
    assert(
      typeof f.system === "string" && /^[a-z0-9_]+-[a-z]+$/.test(f.system),
      fail("system"),
    );
  }
});

Deno.test("nix tree: lib/known-hosts.nix pins every fleet host's key, no example key", async () => {
  const pins = await evalJson(
    "builtins.mapAttrs (_set: builtins.mapAttrs (_host: entry: entry // { publicKeyFile = toString entry.publicKeyFile; })) (import ./lib/known-hosts.nix)",
  ) as Record<"fleet" | "examples", Record<string, { hostNames: string[]; publicKeyFile: string }>>;
  const hosts = await indexPaths("configurations/nixos-configurations.nix");
  // A host whose private key is committed (dev-vm's example) is pinned for a developer's
  // machine only: on the fleet, any local user could answer as it with the public key.
  const withExampleKey: string[] = [];
  for (const [host, dir] of Object.entries(hosts)) {
    if (await exists(`${dir}/example_ssh_host_ed25519_key`)) withExampleKey.push(host);
  }
  assertEqualsList(withExampleKey, ["dev-vm"]);
  assertEqualsList(
    Object.keys(pins.fleet).sort(),
    Object.keys(hosts).filter((host) =>
      !hostsWithoutFixedKey.has(host) && !withExampleKey.includes(host)
    ).sort(),
  );
  assertEqualsList(Object.keys(pins.examples).sort(), withExampleKey);
  // The mixin every host imports pins exactly the fleet's keys.
  const mixin = await evalJson(
    "builtins.attrNames ((import ./modules/nixos/mixins/mixin-known-hosts.nix { }).programs.ssh.knownHosts)",
  );
  assertEqualsList(mixin as string[], Object.keys(pins.fleet).sort());
  for (const entry of [...Object.entries(pins.fleet), ...Object.entries(pins.examples)]) {
    const [host, pin] = entry;
    assert(pin.hostNames.includes(host), `Host "${host}" is not among its own host names`);
    assert(await exists(pin.publicKeyFile), `Key file of "${host}" does not exist`);
  }
  for (const host of Object.keys(pins.fleet)) {
    for (const hostName of pins.fleet[host]!.hostNames) {
      for (const example of withExampleKey) {
        assert(
          !pins.examples[example]!.hostNames.includes(hostName),
          `The fleet pins "${hostName}", a name of ${example} (example key)`,
        );
      }
    }
  }
});

Deno.test("nix tree: every file under secrets/ is sops-encrypted", async () => {
  for await (const entry of Deno.readDir(`${root}secrets`)) {
    if (!entry.isFile) continue;
    const text = await Deno.readTextFile(`${root}secrets/${entry.name}`);
    assert(
      /^sops:\s*$/m.test(text) && text.includes("ENC[AES256_GCM,"),
      `secrets/${entry.name} is not sops-encrypted`,
    );
  }
});

Deno.test("nix tree: private key files are ignored, the examples and public keys are not", async () => {
  const ignored = async (path: string) =>
    (await run("git", ["check-ignore", "--no-index", "--quiet", path])).code === 0;
  for (
    const path of [
      "configurations/new-host/ssh_host_ed25519_key",
      ".data/dev-vm-keys/ssh_host_ed25519_key",
      "keys.txt",
      "disk-encryption.key",
    ]
  ) {
    assert(await ignored(path), `"${path}" is not ignored by .gitignore`);
  }
  for (
    const path of [
      "configurations/new-host/ssh_host_ed25519_key.pub",
      "configurations/dev-vm/example_ssh_host_ed25519_key",
      "configurations/dev-vm/EXAMPLE-admin-age-key.txt",
    ]
  ) {
    assert(!(await ignored(path)), `"${path}" is ignored by .gitignore`);
  }
});

Deno.test("nix tree: every Markdown file a document names exists", async () => {
  const docs = (await runOk("git", ["ls-files", "*.md"])).split("\n").filter((l) => l !== "");
  const missing: string[] = [];
  for (const doc of docs) {
    const folder = doc.includes("/") ? doc.slice(0, doc.lastIndexOf("/") + 1) : "";
    const text = await Deno.readTextFile(`${root}${doc}`);
    for (const [name] of text.matchAll(/[A-Za-z0-9_./-]+\.md\b/g)) {
      if (!(await exists(`${root}${name}`)) && !(await exists(`${root}${folder}${name}`))) {
        missing.push(`${doc} names ${name}`);
      }
    }
  }
  assert(missing.length === 0, `Documents name missing files:\n${missing.join("\n")}`);
});

interface LockNode {
  inputs?: Record<string, string | string[]>;
  locked?: Record<string, string | number>;
  original?: Record<string, string>;
}

/** The inputs of flake.nix: each one's URL and what its own inputs follow. */
async function flakeInputs(): Promise<
  Record<string, { url: string; follows: Record<string, string> }>
> {
  return await evalJson(
    "builtins.mapAttrs (_: i: { url = i.url; follows = builtins.mapAttrs (_: v: v.follows) (i.inputs or { }); }) (import ./flake.nix).inputs",
  ) as Record<string, { url: string; follows: Record<string, string> }>;
}

/** The inputs flake.lock leaves to the first fetch on a networked machine (README says why). */
const unlockedInputs = new Set(["nixpkgs", "nixpkgs-unstable"]);

Deno.test("nix tree: flake.lock locks the inputs of flake.nix as nix writes them", async () => {
  const lock = JSON.parse(await Deno.readTextFile(`${root}flake.lock`)) as {
    nodes: Record<string, LockNode>;
    root: string;
    version: number;
  };
  assert(lock.version === 7 && lock.root === "root", "flake.lock: not a version 7 lock file");
  const inputs = await flakeInputs();
  const rootInputs = lock.nodes.root?.inputs ?? {};
  const locked = Object.keys(rootInputs).sort();
  // Every input is locked, but those left to the first networked fetch; nothing else.
  assertEqualsList(
    locked,
    Object.keys(inputs).filter((input) => !unlockedInputs.has(input)).sort(),
  );
  assertEqualsList(
    Object.keys(lock.nodes).sort(),
    [...locked, "root"].sort(),
  );
  for (const input of locked) {
    const node = lock.nodes[rootInputs[input] as string];
    const url = inputs[input]!.url;
    const [, owner, repo] = /^github:([^/]+)\/([^/]+)$/.exec(url) ?? [];
    assert(owner !== undefined && repo !== undefined, `${input}: ${url} is not a github: URL`);
    assert(
      JSON.stringify(node?.original) === JSON.stringify({ owner, repo, type: "github" }),
      `${input}: original ${JSON.stringify(node?.original)} is not ${url}`,
    );
    const l = node?.locked ?? {};
    assert(
      l.type === "github" && l.owner === owner && l.repo === repo &&
        /^[0-9a-f]{40}$/.test(String(l.rev)) &&
        /^sha256-[A-Za-z0-9+/]{43}=$/.test(String(l.narHash)) &&
        typeof l.lastModified === "number",
      `${input}: locked ${JSON.stringify(l)}`,
    );
    // What the input's own inputs follow, as flake.nix says.
    const follows = Object.fromEntries(
      Object.entries(inputs[input]!.follows).map(([name, target]) => [name, [target]]),
    );
    assert(
      JSON.stringify(node?.inputs ?? {}) === JSON.stringify(follows),
      `${input}: inputs ${JSON.stringify(node?.inputs)} do not follow as flake.nix says`,
    );
  }
  // README's "The fleet" says which inputs are left unlocked, and why.
  const readme = (await Deno.readTextFile(`${root}README.md`)).replace(/\s+/g, " ");
  const unlocked = [...unlockedInputs].map((input) => `\`${input}\``).join(" and ");
  assert(
    readme.includes(`${unlocked} are not locked yet`),
    `README.md does not say ${unlocked} are not locked`,
  );
});
