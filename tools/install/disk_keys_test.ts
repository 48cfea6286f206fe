import { assert, assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { runProgramOk } from "../testing/run.ts";
import { createRunner } from "../lib/runner.ts";
import { CHECKOUT } from "../testing/task.ts";
import { createExampleClone } from "../testing/example_clone.ts";
import { diskKeySecretPath, readDiskKeyPaths, readDiskKeys } from "./disk_keys.ts";

const runner = createRunner({ write: () => {} });

/** nixpkgs' lib from ../shared/nix-inputs beside the checkout (or beside its folder of worktrees). */
async function nixpkgsLibSnapshot(): Promise<string> {
  for (const shared of [`${CHECKOUT}/../shared`, `${CHECKOUT}/../../shared`]) {
    const file = `${shared}/nix-inputs/nixpkgs.lib.tar.gz`;
    if (await Deno.stat(file).then((info) => info.isFile, () => false)) return file;
  }
  throw new Error("no ../shared/nix-inputs/nixpkgs.lib.tar.gz beside the checkout");
}

async function diskoFile(text: string): Promise<AsyncDisposable & { path: string }> {
  const dir = await Deno.makeTempDir({ prefix: "disko-" });
  await Deno.writeTextFile(`${dir}/disko.nix`, text);
  return {
    path: `${dir}/disko.nix`,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

const FUNCTION_DISKO = `{ lib, disks ? [ "/dev/vda" ], ... }: {
  disko.devices.disk = lib.mkMerge [
    {
      main = {
        device = lib.mkDefault (builtins.head disks);
        content.partitions.luks.content = {
          type = "luks";
          passwordFile = lib.mkDefault "/tmp/root.key";
        };
      };
    }
    (lib.mkIf false { spare.content.keyFile = "/tmp/never.key"; })
    (lib.mkIf true {
      data.content = { type = "luks"; keyFile = "/tmp/data.key"; settings.keyFile = "/tmp/root.key"; };
    })
  ];
}`;

Deno.test("readDiskKeyPaths() finds the one passphrase file nas1's three LUKS devices share, and desk1's", async () => {
  // The example hosts from git: a repository whose owner ran init has neither.
  await using repo = await createExampleClone();
  for (const host of ["nas1", "desk1"]) {
    assertEquals(
      await readDiskKeyPaths(runner, repo.path(`configurations/${host}/disko.nix`)),
      ["/tmp/disk-encryption.key"],
    );
  }
});

Deno.test("readDiskKeyPaths() reads a disko function of { lib, ... } with mkDefault, mkIf and mkMerge", async () => {
  await using file = await diskoFile(FUNCTION_DISKO);
  assertEquals(await readDiskKeyPaths(runner, file.path), ["/tmp/root.key", "/tmp/data.key"]);
});

Deno.test("readDiskKeyPaths() gives the same paths with the real nixpkgs lib as with its stub", async () => {
  await using file = await diskoFile(FUNCTION_DISKO);
  const dir = await Deno.makeTempDir({ prefix: "nixpkgs-lib-" });
  try {
    await runProgramOk(["tar", "-xzf", await nixpkgsLibSnapshot(), "-C", dir]);
    const lib = `import ${dir}/nixpkgs.lib/lib`;
    assertEquals(await readDiskKeyPaths(runner, file.path, lib), [
      "/tmp/root.key",
      "/tmp/data.key",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readDiskKeyPaths() refuses a relative path and names nix's error for a broken file", async () => {
  {
    await using file = await diskoFile(`{ disko.devices.disk.a.content.passwordFile = "key"; }`);
    await assertRejects(() => readDiskKeyPaths(runner, file.path), Error, `disk key path "key"`);
  }
  {
    await using file = await diskoFile(`{ config, ... }: { }`);
    await assertRejects(
      () => readDiskKeyPaths(runner, file.path),
      Error,
      "Cannot read the disk keys of",
    );
  }
});

Deno.test("diskKeySecretPath() is the sops tree path keyed by the installer path", () => {
  assertEquals(
    diskKeySecretPath("/tmp/disk-encryption.key"),
    `["disk-encryption-keys"]["/tmp/disk-encryption.key"]`,
  );
});

Deno.test("readDiskKeyPaths() follows a disko file's imports, so an imported LUKS passphrase is not missed", async () => {
  const dir = await Deno.makeTempDir({ prefix: "disko-imports-" });
  try {
    await Deno.writeTextFile(
      `${dir}/data.nix`,
      `{ lib, ... }: { disko.devices.disk.data.content = { type = "luks"; keyFile = lib.mkDefault "/tmp/data.key"; }; }`,
    );
    await Deno.writeTextFile(
      `${dir}/root.nix`,
      `{ imports = [ ./data.nix ]; disko.devices.disk.root.content = { type = "luks"; passwordFile = "/tmp/root.key"; }; }`,
    );
    await Deno.writeTextFile(
      `${dir}/disko.nix`,
      `{ imports = [ ./root.nix "${dir}/data.nix" { disko.devices.disk.x.content.passwordFile = "/tmp/inline.key"; } ]; }`,
    );
    assertEquals((await readDiskKeyPaths(runner, `${dir}/disko.nix`)).toSorted(), [
      "/tmp/data.key",
      "/tmp/inline.key",
      "/tmp/root.key",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("readDiskKeyPaths() names nix's error in one line, without the whole expression", async () => {
  await using file = await diskoFile(`{ config, lib, ... }: { }`);
  const error = await assertRejects(() => readDiskKeyPaths(runner, file.path), Error);
  assertEquals(error.message.split("\n").length, 1, error.message);
  assertStringIncludes(error.message, "called without required argument 'config'");
  assert(!error.message.includes("mkOverride"), error.message);
});

Deno.test("readDiskKeyPaths() refuses a passphrase path the installer's shell would split or run (nixos-anywhere writes it unquoted)", async () => {
  for (
    const path of [
      "/tmp/my key",
      "/tmp/$(touch x)",
      "/tmp/a;b",
      "/tmp/a'b",
      "/tmp/*.key",
      "/tmp/a\\tb",
    ]
  ) {
    await using file = await diskoFile(
      `{ disko.devices.disk.a.content.passwordFile = ${JSON.stringify(path)}; }`,
    );
    await assertRejects(
      () => readDiskKeyPaths(runner, file.path),
      Error,
      `Cannot use the disk key path ${
        JSON.stringify(path)
      } of ${file.path}: nixos-anywhere writes it through the installer's shell unquoted`,
    );
  }
  await using fine = await diskoFile(
    `{ disko.devices.disk.a.content.passwordFile = "/run/keys/disk-1_a.b+c@d,e=f:g%h.key"; }`,
  );
  assertEquals(await readDiskKeyPaths(runner, fine.path), ["/run/keys/disk-1_a.b+c@d,e=f:g%h.key"]);
});

Deno.test("readDiskKeyPaths() reads a disko file whose folder name holds ${ (no Nix interpolation)", async () => {
  const parent = await Deno.makeTempDir({ prefix: "disko-dollar-" });
  try {
    const dir = `${parent}/a\${builtins.abort "interpolated"}b`;
    await Deno.mkdir(dir);
    await Deno.writeTextFile(
      `${dir}/disko.nix`,
      `{ disko.devices.disk.a.content.passwordFile = "/tmp/a.key"; }`,
    );
    assertEquals(await readDiskKeyPaths(runner, `${dir}/disko.nix`), ["/tmp/a.key"]);
  } finally {
    await Deno.remove(parent, { recursive: true });
  }
});

Deno.test('readDiskKeyPaths() finds LUKS additionalKeyFiles and ZFS keylocation files, not keylocation = "prompt"', async () => {
  // As disko's example/zfs.nix and lib/types/luks.nix (pinned 878ec37) write them.
  await using file = await diskoFile(`{ lib, ... }: {
  disko.devices = {
    disk.a.content.partitions.luks.content = {
      type = "luks";
      settings.keyFile = "/tmp/settings.key";
      additionalKeyFiles = [ "/tmp/add-1.key" (lib.mkDefault "/tmp/add-2.key") ];
    };
    zpool.zroot = {
      type = "zpool";
      rootFsOptions.keylocation = lib.mkDefault "file:///tmp/zroot.key";
      datasets.a.options.keylocation = "file:///tmp/a.key";
      datasets.b.options.keylocation = "prompt";
      datasets.c.type = "zfs_volume";
      datasets.c.options.keylocation = "file:///tmp/a.key";
    };
  };
}`);
  assertEquals((await readDiskKeyPaths(runner, file.path)).sort(), [
    "/tmp/a.key",
    "/tmp/add-1.key",
    "/tmp/add-2.key",
    "/tmp/settings.key",
    "/tmp/zroot.key",
  ]);
});

Deno.test('readDiskKeys() marks a ZFS keylocation file with keyformat = "passphrase" as a ZFS passphrase', async () => {
  await using file = await diskoFile(`{
  disko.devices.zpool.zroot = {
    rootFsOptions = { keyformat = "passphrase"; keylocation = "file:///tmp/zroot.key"; };
    datasets.raw.options = { keyformat = "raw"; keylocation = "file:///tmp/raw.key"; };
  };
  disko.devices.disk.a.content = { type = "luks"; passwordFile = "/tmp/luks.key"; };
}`);
  assertEquals(await readDiskKeys(runner, file.path), [
    { path: "/tmp/luks.key", zfsPassphrase: false },
    { path: "/tmp/raw.key", zfsPassphrase: false },
    { path: "/tmp/zroot.key", zfsPassphrase: true },
  ]);
});
