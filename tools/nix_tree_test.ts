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
  // dev-vm's, until `deno task init` deleted it with the example admin key.
  const example = await exists(`${root}configurations/dev-vm/EXAMPLE-admin-age-key.txt`);
  assertEqualsList(withExampleKey, example ? ["dev-vm"] : []);
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

interface LockFile {
  nodes: Record<string, LockNode>;
  root: string;
  version: number;
}

/** The owner, repo and (optional) ref of a `github:owner/repo[/ref]` URL. */
function githubUrl(url: string): { owner: string; ref?: string; repo: string } | undefined {
  const [, owner, repo, ref] = /^github:([^/]+)\/([^/]+)(?:\/([^/]+))?$/.exec(url) ?? [];
  if (owner === undefined || repo === undefined) return undefined;
  return ref === undefined ? { owner, repo } : { owner, ref, repo };
}

/**
 * The inputs whose nodes come from public lock files of other repositories: no snapshot of
 * them is here to hash, so each pair (rev, narHash, lastModified) is recorded with its sources.
 */
const lockedFromPublicLockFiles = ["nixpkgs", "nixpkgs-unstable"];
const lockSourcesFile = "tools/testing/fixtures/flake-lock-sources.tsv";
const lockSourceColumns = [
  "input",
  "ref",
  "rev",
  "narHash",
  "lastModified",
  "repo",
  "path",
  "node",
  "commit",
  "committed",
  "searched",
] as const;
type LockSource = Record<(typeof lockSourceColumns)[number], string>;

/** The rows of flake-lock-sources.tsv (comment lines, a header line, then one row per source). */
async function lockSources(): Promise<LockSource[]> {
  const lines = (await Deno.readTextFile(`${root}${lockSourcesFile}`)).split("\n")
    .filter((line) => line.trim() !== "" && !line.startsWith("#"));
  assertEqualsList(lines[0]?.split("\t") ?? [], [...lockSourceColumns]);
  return lines.slice(1).map((line, i) => {
    const cells = line.split("\t");
    assert(cells.length === lockSourceColumns.length, `${lockSourcesFile} row ${i + 1}: ${line}`);
    return Object.fromEntries(
      lockSourceColumns.map((column, j) => [column, cells[j]]),
    ) as LockSource;
  });
}

/**
 * What is wrong with the nodes of `inputs` in `lock` against their sources: each needs rows
 * from at least two repositories of different owners, every row naming the node's own ref, rev,
 * narHash and lastModified, the repository commit read and the dates; no row for another input.
 */
function lockSourceProblems(lock: LockFile, inputs: string[], rows: LockSource[]): string[] {
  const problems: string[] = [];
  for (const row of rows) {
    if (!inputs.includes(row.input)) problems.push(`${row.input}: a source row for no such input`);
  }
  const rootInputs = lock.nodes[lock.root]?.inputs ?? {};
  for (const input of inputs) {
    const node = lock.nodes[String(rootInputs[input])];
    const mine = rows.filter((row) => row.input === input);
    const owners = new Set(mine.map((row) => row.repo.split("/")[0]));
    if (owners.size < 2) {
      problems.push(`${input}: sources from ${owners.size} owner(s), not two independent ones`);
    }
    for (const row of mine) {
      const where = `${input} (${row.repo} ${row.path} at ${row.commit})`;
      const expected = {
        ref: node?.original?.ref,
        rev: node?.locked?.rev,
        narHash: node?.locked?.narHash,
        lastModified: String(node?.locked?.lastModified),
      };
      for (const [column, value] of Object.entries(expected)) {
        const cell = row[column as keyof typeof expected];
        if (cell !== value) problems.push(`${where}: ${column} ${cell}, flake.lock has ${value}`);
      }
      if (!/^[^/\s]+\/[^/\s]+$/.test(row.repo)) problems.push(`${where}: repo is not owner/name`);
      if (!/(^|\/)flake\.lock$/.test(row.path)) problems.push(`${where}: path is not a flake.lock`);
      if (!/^[0-9a-f]{40}$/.test(row.commit)) problems.push(`${where}: commit is not a full hash`);
      for (const column of ["committed", "searched"] as const) {
        if (!/^\d{4}-\d{2}-\d{2}$/.test(row[column])) {
          problems.push(`${where}: ${column} is not a date`);
        }
      }
    }
  }
  return problems;
}

Deno.test("nix tree: flake.lock locks every input of flake.nix as nix writes them", async () => {
  const lock = JSON.parse(await Deno.readTextFile(`${root}flake.lock`)) as LockFile;
  assert(lock.version === 7 && lock.root === "root", "flake.lock: not a version 7 lock file");
  const inputs = await flakeInputs();
  const rootInputs = lock.nodes.root?.inputs ?? {};
  const locked = Object.keys(rootInputs).sort();
  assertEqualsList(locked, Object.keys(inputs).sort());
  assertEqualsList(Object.keys(lock.nodes).sort(), [...locked, "root"].sort());
  for (const input of locked) {
    const node = lock.nodes[rootInputs[input] as string];
    const url = inputs[input]!.url;
    const original = githubUrl(url);
    assert(original !== undefined, `${input}: ${url} is not a github: URL`);
    // nix writes the original as flake.nix names it: owner, the ref if any, repo, type.
    assert(
      JSON.stringify(node?.original) === JSON.stringify({ ...original, type: "github" }),
      `${input}: original ${JSON.stringify(node?.original)} is not ${url}`,
    );
    const l = node?.locked ?? {};
    assert(
      l.type === "github" && l.owner === original.owner && l.repo === original.repo &&
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
});

Deno.test("nix tree: flake.lock's nixpkgs nodes agree with two public lock files of different owners", async () => {
  const lock = JSON.parse(await Deno.readTextFile(`${root}flake.lock`)) as LockFile;
  const rows = await lockSources();
  const problems = lockSourceProblems(lock, lockedFromPublicLockFiles, rows);
  assert(problems.length === 0, `${lockSourcesFile}:\n${problems.join("\n")}`);

  // The check itself catches a lock that no longer matches its sources, a single owner, a row
  // for another branch and a row for an input that is not taken from public lock files.
  const nixpkgs = lock.nodes.nixpkgs!;
  const tampered: LockFile = {
    ...lock,
    nodes: {
      ...lock.nodes,
      nixpkgs: { ...nixpkgs, locked: { ...nixpkgs.locked, rev: "0".repeat(40) } },
    },
  };
  const caught = (problems: string[], text: string) =>
    assert(
      problems.some((problem) => problem.includes(text)),
      `not caught: ${text} (got ${JSON.stringify(problems)})`,
    );
  caught(
    lockSourceProblems(tampered, lockedFromPublicLockFiles, rows),
    `flake.lock has ${"0".repeat(40)}`,
  );
  const firstOwner = rows.find((row) => row.input === "nixpkgs")!.repo.split("/")[0];
  caught(
    lockSourceProblems(
      lock,
      lockedFromPublicLockFiles,
      rows.map((row) => ({ ...row, repo: `${firstOwner}/${row.repo.split("/")[1]}` })),
    ),
    "not two independent ones",
  );
  caught(
    lockSourceProblems(
      lock,
      lockedFromPublicLockFiles,
      rows.map((row) => row.input === "nixpkgs" ? { ...row, ref: "nixos-unstable" } : row),
    ),
    "ref nixos-unstable, flake.lock has nixos-26.05",
  );
  caught(
    lockSourceProblems(lock, lockedFromPublicLockFiles, [...rows, { ...rows[0]!, input: "disko" }]),
    "disko: a source row for no such input",
  );

  // README's "The fleet" names the sources and says what verifies the narHashes.
  const readme = (await Deno.readTextFile(`${root}README.md`)).replace(/\s+/g, " ");
  for (const text of [lockSourcesFile, "the first fetch on a networked machine verifies"]) {
    assert(readme.includes(text), `README.md does not say "${text}"`);
  }
});
