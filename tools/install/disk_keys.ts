// Where a host's disk keys go on the installer (every file a disko layout reads: LUKS
// passwordFile / keyFile / settings.keyFile / additionalKeyFiles, bcachefs passwordFile, ZFS
// keylocation = "file://…") and where their values live in secrets/<host>.yaml: the naming rule,
// and the evaluation that finds them.
import { z } from "zod";
import { causeLine, CommandError } from "../lib/errors.ts";
import type { Runner } from "../lib/runner.ts";
import { parseOrThrow } from "../lib/validate.ts";

/**
 * The naming rule: the passphrase for the installer path `P` is the value at
 * `disk-encryption-keys` → `P` in secrets/<host>.yaml, e.g.
 * `disk-encryption-keys: { "/tmp/disk-encryption.key": "…" }`.
 */
export const DISK_KEYS_SECRET = "disk-encryption-keys";

/** The sops tree path of the passphrase for `installerPath`: `["disk-encryption-keys"]["/tmp/x.key"]`. */
export function diskKeySecretPath(installerPath: string): string {
  return `[${JSON.stringify(DISK_KEYS_SECRET)}][${JSON.stringify(installerPath)}]`;
}

// Stand-ins for the few lib functions a disko.nix uses, producing the same values as nixpkgs'
// lib (mkDefault and friends wrap a value in { _type = …; }), so the walk below reads both.
const LIB_STUB = `{
  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  mkDefault = content: { _type = "override"; priority = 1000; inherit content; };
  mkForce = content: { _type = "override"; priority = 50; inherit content; };
  mkIf = condition: content: { _type = "if"; inherit condition content; };
  mkMerge = contents: { _type = "merge"; inherit contents; };
  optionalAttrs = cond: attrs: if cond then attrs else { };
  optional = cond: x: if cond then [ x ] else [ ];
  optionals = cond: xs: if cond then xs else [ ];
}`;

/** `text` as a Nix string literal: JSON's escapes, and `${` kept from interpolating. */
export function nixString(text: string): string {
  return JSON.stringify(text).replaceAll("${", "\\${");
}

/**
 * A Nix expression listing every key file the disko file at `diskoFile` (a plain attribute set,
 * or a function of `{ lib, ... }`) reads, in attribute order. Read from disko's types (pinned
 * snapshot 878ec37, lib/types/): `passwordFile` (luks.nix, bcachefs_filesystem.nix), `keyFile`
 * and `settings.keyFile` (luks.nix: `cryptsetup --key-file`), `additionalKeyFiles` (luks.nix:
 * `cryptsetup luksAddKey <device> <file>`) and a ZFS `keylocation = "file://<path>"` (zfs_fs.nix,
 * zfs_volume.nix, a zpool's rootFsOptions: `zfs load-key` reads it). `libExpression` replaces the
 * stub lib (tests pass the real nixpkgs lib).
 */
export function diskKeyPathsExpression(diskoFile: string, libExpression = LIB_STUB): string {
  return `let
  lib = ${libExpression};
  # A module: a file, an attribute set, or a function of { lib, ... }.
  call = m:
    let f = if builtins.isPath m || builtins.isString m then import m else m; in
    if builtins.isFunction f
    then f (builtins.intersectAttrs (builtins.functionArgs f) { inherit lib; })
    else f;
  value = call ${nixString(diskoFile)};
  unwrap = v:
    if builtins.isAttrs v && (v._type or null) == "override" then unwrap v.content
    else if builtins.isAttrs v && (v._type or null) == "if" then (if v.condition then unwrap v.content else null)
    else v;
  key = path: zfsPassphrase: { inherit path zfsPassphrase; };
  walk = v0:
    let v = unwrap v0; in
    if builtins.isAttrs v && (v._type or null) == "merge" then builtins.concatMap walk v.contents
    else if builtins.isAttrs v then builtins.concatMap (name:
      let x = unwrap v.\${name}; in
      if (name == "passwordFile" || name == "keyFile") && (builtins.isString x || builtins.isPath x)
      then [ (key (toString x) false) ]
      else if name == "additionalKeyFiles" && builtins.isList x
      then map (f: key (toString f) false) (builtins.filter (f: f != null) (map unwrap x))
      else if name == "keylocation" && builtins.isString x && builtins.substring 0 7 x == "file://"
      then [ (key (builtins.substring 7 (-1) x) (unwrap (v.keyformat or null) == "passphrase")) ]
      # A passphrase declared in an imported file counts too: missing it would wipe the disks
      # and then fail for want of the passphrase file.
      else if name == "imports" && builtins.isList x then builtins.concatMap (m: walk (call m)) x
      else walk x) (builtins.attrNames v)
    else if builtins.isList v then builtins.concatMap walk v
    else [ ];
in walk value`;
}

const SHELL_SAFE_PATH = /^[A-Za-z0-9._+@,=:%/-]+$/;

/** One key file a disko layout reads. */
export interface DiskKeyFile {
  /** Where disko reads it on the installer. */
  path: string;
  /** A ZFS `keylocation` with `keyformat = "passphrase"`: zfs takes 8 to 512 bytes only. */
  zfsPassphrase: boolean;
}

/** Reads the distinct disk key files of `diskoFile` with nix-instantiate (offline, no nixpkgs). */
export async function readDiskKeys(
  runner: Runner,
  diskoFile: string,
  libExpression?: string,
): Promise<DiskKeyFile[]> {
  let stdout: string;
  try {
    stdout = await runner.text({
      argv: [
        "nix-instantiate",
        "--eval",
        "--strict",
        "--json",
        "--expr",
        diskKeyPathsExpression(diskoFile, libExpression),
      ],
      timeoutMs: 120_000,
    });
  } catch (error) {
    // The runner's message holds the whole expression; nix's own error line is the cause.
    const cause = error instanceof CommandError
      ? causeLine(error.stderrTail) || `exit code ${error.code}`
      : (error as Error).message;
    throw new Error(`Cannot read the disk keys of ${diskoFile}: ${cause}`);
  }
  const keys = parseOrThrow(
    z.array(z.object({ path: z.string(), zfsPassphrase: z.boolean() })),
    JSON.parse(stdout),
    `disk key paths of ${diskoFile}`,
  );
  for (const { path } of keys) {
    if (!path.startsWith("/") || path.includes("\n")) {
      throw new Error(
        `Cannot use the disk key path "${path}" of ${diskoFile}: not an absolute path`,
      );
    }
    // nixos-anywhere uploads each key with `cat > $path` run by the installer's shell, unquoted:
    // a space would split it, `$(…)` or `;` would run as root there.
    if (!SHELL_SAFE_PATH.test(path)) {
      throw new Error(
        `Cannot use the disk key path ${
          JSON.stringify(path)
        } of ${diskoFile}: nixos-anywhere writes it through the installer's shell unquoted; use only letters, digits and . _ - + @ , = : % /`,
      );
    }
  }
  const byPath = new Map<string, DiskKeyFile>();
  for (const key of keys) {
    const seen = byPath.get(key.path);
    byPath.set(key.path, {
      path: key.path,
      zfsPassphrase: (seen?.zfsPassphrase ?? false) || key.zfsPassphrase,
    });
  }
  return [...byPath.values()];
}

/** Reads the distinct disk key paths of `diskoFile` ({@linkcode readDiskKeys}). */
export async function readDiskKeyPaths(
  runner: Runner,
  diskoFile: string,
  libExpression?: string,
): Promise<string[]> {
  return (await readDiskKeys(runner, diskoFile, libExpression)).map((key) => key.path);
}
