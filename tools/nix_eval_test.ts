// Evaluates every output of the flake offline, with the real input flakes from
// ../shared/nix-inputs and the stub nixpkgs of tools/testing/nixpkgs_stub (the real lib,
// fake packages, typed NixOS options with the upstream definitions that meet ours).
// Skipped where ../shared/nix-inputs is absent: there `nix flake check` is the real check.
// Run from the repository root: deno test --allow-all tools/nix_eval_test.ts
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { assert, assertEquals, assertStringIncludes } from "./testing/assert.ts";
import { type ProgramResult, runProgram, runProgramOk } from "./testing/run.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const inputsDir = resolve(root, "..", "shared", "nix-inputs");
const stubDir = join(root, "tools", "testing", "nixpkgs_stub");

/** The flake inputs and the snapshot each is overridden with (nixpkgs: the stub). */
const inputSnapshots: Record<string, string> = {
  "flake-parts": "flake-parts",
  "disko": "disko",
  "sops-nix": "sops-nix",
  "devshell": "devshell",
  "nixos-hardware": "nixos-hardware",
};

/** File names of private keys the project uses; none may be a Nix path in a closure. */
const privateKeyName = /(_key|age-key\.txt|keys\.txt)$/;

function inputsPresent(): boolean {
  try {
    return Deno.statSync(join(inputsDir, "MANIFEST.tsv")).isFile;
  } catch {
    return false;
  }
}

interface Evaluator {
  /** `nix eval --json` of an attribute of the flake, with `--apply` when given. */
  flake(attribute: string, apply?: string): Promise<ProgramResult>;
  /** `nix eval --json --impure --expr` with `stub` bound to the stub nixpkgs flake. */
  expr(expression: string): Promise<ProgramResult>;
}

async function unpack(tarball: string, into: string): Promise<string> {
  await Deno.mkdir(into, { recursive: true });
  await runProgramOk(["tar", "-xzf", tarball, "-C", into]);
  const entries: string[] = [];
  for await (const entry of Deno.readDir(into)) entries.push(entry.name);
  assert(entries.length === 1 && entries[0] !== undefined, `${tarball}: not one top folder`);
  return join(into, entries[0]);
}

/** Unpacks the snapshots and the stub into `dir`; returns how to evaluate against them. */
async function prepare(dir: string): Promise<Evaluator> {
  const overrides: string[] = [];
  for (const [input, snapshot] of Object.entries(inputSnapshots)) {
    const path = await unpack(join(inputsDir, `${snapshot}.tar.gz`), join(dir, snapshot));
    // Every nested input of these follows our nixpkgs, so their own lock files are not
    // needed, and nix 2.8 cannot read nixos-hardware's (a tarball with lastModified).
    await Deno.remove(join(path, "flake.lock")).catch((error) => {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    });
    overrides.push("--override-input", input, `path:${path}`);
  }
  const lib = await unpack(join(inputsDir, "nixpkgs.lib.tar.gz"), join(dir, "nixpkgs.lib"));
  const nixpkgs = join(dir, "nixpkgs");
  await runProgramOk(["cp", "-r", stubDir, nixpkgs]);
  await runProgramOk(["cp", "-r", join(lib, "lib"), join(nixpkgs, "lib")]);
  overrides.push("--override-input", "nixpkgs", `path:${nixpkgs}`);
  overrides.push("--override-input", "nixpkgs-unstable", `path:${nixpkgs}`);
  const common = ["nix", "eval", "--json", "--no-eval-cache"];
  return {
    flake: (attribute, apply) =>
      runProgram([
        ...common,
        "--no-write-lock-file",
        ...overrides,
        `${root}#${attribute}`,
        ...(apply === undefined ? [] : ["--apply", apply]),
      ], { cwd: root }),
    expr: (expression) =>
      runProgram([
        ...common,
        "--impure",
        "--expr",
        `let stub = builtins.getFlake "path:${nixpkgs}"; in ${expression}`,
      ], { cwd: root }),
  };
}

/** The error nix printed, without the lock file chatter. */
function nixError(result: ProgramResult): string {
  return result.stderr.split("\n").filter((line) =>
    !/^(warning: (Git tree|not writing)|• | {4}('|follows ))/.test(line)
  ).join("\n").trim();
}

function json<T>(result: ProgramResult, what: string): T {
  assert(result.code === 0, `Cannot evaluate ${what}:\n${nixError(result)}`);
  return JSON.parse(result.stdout) as T;
}

async function indexNames(file: string): Promise<string[]> {
  const stdout = await runProgramOk([
    "nix-instantiate",
    "--eval",
    "--strict",
    "--json",
    "-E",
    `builtins.attrNames (import ./${file})`,
  ], { cwd: root });
  return JSON.parse(stdout) as string[];
}

/** Store paths of the build-time closure of a derivation that are named like private keys. */
async function privateKeysIn(drvPath: string): Promise<string[]> {
  const closure = await runProgramOk(["nix-store", "--query", "--requisites", drvPath]);
  return closure.split("\n").filter((path) => privateKeyName.test(path));
}

interface HostResult {
  toplevel: string;
  warnings: string[];
  vm: string | null;
}

/** A host's toplevel and warnings, and the toplevel of its VM variant when `vm`. */
function hostApply(vm: boolean): string {
  return `host: {
    toplevel = host.config.system.build.toplevel.drvPath;
    warnings = host.config.warnings;
    vm = ${vm ? "host.config.virtualisation.vmVariant.system.build.toplevel.drvPath" : "null"};
  }`;
}

const drvPaths = "builtins.mapAttrs (_system: builtins.mapAttrs (_name: drv: drv.drvPath))";

if (!inputsPresent()) {
  Deno.test({
    name:
      "nix eval: skipped, ../shared/nix-inputs is absent (run `nix flake check` on a machine with network)",
    ignore: true,
    fn() {},
  });
} else {
  Deno.test("nix eval: every output of the flake evaluates offline", async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "nix-eval-" });
    try {
      const nix = await prepare(dir);
      const hosts = json<Record<string, { tags: string[]; system: string }>>(
        await nix.flake("hosts"),
        "hosts",
      );
      const hostNames = Object.keys(hosts).sort();
      assertEquals(hostNames, await indexNames("configurations/nixos-configurations.nix"));

      await t.step("every host's toplevel, with assertions and warnings", async () => {
        const results = await Promise.all(hostNames.map(async (host) => {
          const vm = hosts[host]?.tags.includes("vm") ?? false;
          const result = await nix.flake(`nixosConfigurations.${host}`, hostApply(vm));
          return { host, result };
        }));
        const failures: string[] = [];
        for (const { host, result } of results) {
          if (result.code !== 0) {
            failures.push(`${host}: ${nixError(result)}`);
            continue;
          }
          const value = JSON.parse(result.stdout) as HostResult;
          for (const warning of value.warnings) console.warn(`warning: ${host}: ${warning}`);
          assert(value.toplevel.endsWith(".drv"), `${host}: no toplevel derivation`);
          for (const drv of [value.toplevel, value.vm]) {
            if (drv === null) continue;
            const keys = await privateKeysIn(drv);
            if (keys.length > 0) failures.push(`${host}: private keys in the store: ${keys}`);
          }
          if (hosts[host]?.tags.includes("vm")) {
            assert(value.vm !== null, `${host}: no VM variant`);
          }
        }
        assert(failures.length === 0, `Hosts that do not evaluate:\n${failures.join("\n\n")}`);
      });

      await t.step("every dev shell, package, check and formatter", async () => {
        const [shells, packages, checks, formatter] = await Promise.all(
          ["devShells", "packages", "checks", "formatter"].map((output) =>
            nix.flake(
              output,
              output === "formatter" ? "builtins.mapAttrs (_: f: f.drvPath)" : drvPaths,
            )
          ),
        );
        type PerSystem = Record<string, Record<string, string>>;
        const shellDrvs = json<PerSystem>(shells!, "devShells");
        const packageDrvs = json<PerSystem>(packages!, "packages");
        const checkDrvs = json<PerSystem>(checks!, "checks");
        json<Record<string, string>>(formatter!, "formatter");
        const shellNames = [
          ...await indexNames("shells/shells.nix"),
          ...await indexNames("shells/numtide-devshells.nix"),
          "default",
        ].sort();
        const packageNames: string[] = [];
        for await (const entry of Deno.readDir(join(root, "pkgs"))) {
          if (entry.isDirectory) packageNames.push(entry.name);
        }
        packageNames.sort();
        for (const system of ["x86_64-linux", "aarch64-linux"]) {
          assertEquals(Object.keys(shellDrvs[system] ?? {}).sort(), shellNames);
          assertEquals(Object.keys(packageDrvs[system] ?? {}).sort(), packageNames);
          const hostChecks = hostNames.filter((host) => hosts[host]?.system === system)
            .map((host) => `host-${host}`);
          assertEquals(
            Object.keys(checkDrvs[system] ?? {}).sort(),
            [...hostChecks, ...packageNames.map((name) => `package-${name}`), "formatting"]
              .sort(),
          );
        }
      });

      await t.step("the module, overlay and disko indexes", async () => {
        const pairs: [string, string][] = [
          ["nixosModules", "modules/nixos/nixos-modules.nix"],
          ["homeModules", "modules/home/home-modules.nix"],
          ["sharedModules", "modules/shared/shared-modules.nix"],
          ["overlays", "overlays/overlays.nix"],
          ["diskoConfigurations", "configurations/disko-configurations.nix"],
        ];
        for (const [output, index] of pairs) {
          const names = json<string[]>(
            await nix.flake(output, "builtins.attrNames"),
            output,
          );
          assertEquals(names, await indexNames(index), `${output} and ${index} differ`);
        }
        // Every overlay applies: evaluating a package it changes goes through all of them.
        json<string>(
          await nix.flake("nixosConfigurations.nas1._module.args.pkgs.htop.drvPath"),
          "htop through the overlays",
        );
      });

      await t.step("facts the fixes of issue 11 rely on", async () => {
        const vm = json<{ host: { address: string } }[]>(
          await nix.flake(
            "nixosConfigurations.dev-vm.config.virtualisation.vmVariant.virtualisation.forwardPorts",
          ),
          "dev-vm's forwarded ports",
        );
        assert(vm.length > 0 && vm.every((port) => port.host.address === "127.0.0.1"));
        const nas1 = json<{ listen: string; postgres: string }>(
          await nix.flake(
            "nixosConfigurations.nas1.config",
            "c: { listen = c.services.prometheus.exporters.node.listenAddress; postgres = c.services.postgresql.package.pname; }",
          ),
          "nas1's exporter and postgresql",
        );
        assert(nas1.listen !== "0.0.0.0", "nas1's node exporter listens on every address");
        assertEquals(nas1.postgres, "postgresql_16");
        const desk1 = json<{
          unitConfig: Record<string, unknown>;
          serviceConfig: Record<string, unknown>;
        }>(
          await nix.flake(
            "nixosConfigurations.desk1.config.systemd.services.kopia-backup",
            "unit: { inherit (unit) unitConfig serviceConfig; }",
          ),
          "desk1's kopia unit",
        );
        assertEquals(desk1.unitConfig, { RequiresMountsFor: ["/mnt/backup/kopia"] });
        assertStringIncludes(String(desk1.serviceConfig.ExecCondition), "mountpoint");
        const install = json<string>(
          await nix.flake(
            "packages.x86_64-linux.node-exporter-textfile-collector-scripts.installPhase",
          ),
          "the textfile collector scripts' install phase",
        );
        for (const tool of ["util-linux", "findutils", "mdadm", "smartmontools"]) {
          assertStringIncludes(install, `-${tool}-`);
        }
        for (const script of ["pacman.sh", "yum.sh", "node_os_info.sh"]) {
          assert(!install.includes(script), `${script} is installed`);
        }
      });

      await t.step("user secrets: owned by their user, mode 0400, from their file", async () => {
        const secret = json<Record<string, unknown>>(
          await nix.flake(
            "nixosConfigurations.desk1.config.sops.secrets",
            `s: let x = s."users/sam/mail-app-password"; in { inherit (x) owner group mode path key; file = toString x.sopsFile; }`,
          ),
          "desk1's user secret",
        );
        assertEquals(secret.owner, "sam");
        assertEquals(secret.group, "users");
        assertEquals(secret.mode, "0400");
        assertEquals(secret.path, "/run/secrets/users/sam/mail-app-password");
        assertEquals(secret.key, "mail-app-password");
        assert(String(secret.file).endsWith("/secrets/users/sam/desk1.yaml"), `${secret.file}`);
        // A user with no file on the host, and one the host does not declare, fail with a
        // message; a listed key is installed, and only it.
        const nas1 = json<{ failed: string[]; secrets: string[] }>(
          await nix.flake(
            "nixosConfigurations.nas1",
            `h: let e = h.extendModules { modules = [ { devops.userSecrets.sam.keys = [ "k" ]; users.users.sam.isNormalUser = true; devops.userSecrets.nobody = { }; } ]; }; in { failed = map (a: a.message) (builtins.filter (a: !a.assertion) e.config.assertions); secrets = builtins.attrNames e.config.sops.secrets; }`,
          ),
          "nas1 with user secrets it lacks",
        );
        assertEquals(nas1.failed.length, 3, `${nas1.failed}`);
        for (
          const message of [
            "devops.userSecrets.nobody: no users.users.nobody on nas1",
            "run `deno task secrets user grant nobody nas1`",
            "run `deno task secrets user grant sam nas1`",
          ]
        ) {
          assert(nas1.failed.some((m) => m.includes(message)), `${message}: ${nas1.failed}`);
        }
        assert(!nas1.secrets.some((name) => name.startsWith("users/")), `${nas1.secrets}`);
        const desk1 = json<string[]>(
          await nix.flake(
            "nixosConfigurations.desk1",
            `h: builtins.attrNames (h.extendModules { modules = [ { devops.userSecrets.sam.keys = [ "other" ]; } ]; }).config.sops.secrets`,
          ),
          "desk1 with sam's keys listed",
        );
        assertEquals(desk1.filter((name) => name.startsWith("users/")), ["users/sam/other"]);
      });

      await t.step("an injected fault fails the evaluation", async () => {
        const hardening = `${root}/modules/nixos/mixins/mixin-hardening.nix`;
        const kopia = `${root}/modules/nixos/services/service-kopia.nix`;
        const system = (modules: string) =>
          `(stub.lib.nixosSystem { modules = [ { nixpkgs.hostPlatform = "x86_64-linux"; } ${modules} ]; }).config.system.build.toplevel.drvPath`;
        // The fleet's hardening mixin beside each fault: it must not hide one.
        const clean = await nix.expr(system(hardening));
        assert(clean.code === 0, `The clean system fails:\n${nixError(clean)}`);
        const faults: [string, string, string][] = [
          [
            "an upstream default set again at its priority",
            `({ lib, ... }: { boot.kernel.sysctl."vm.max_map_count" = lib.mkDefault 65530; })`,
            "is defined multiple times while it's expected to be unique",
          ],
          [
            "an undeclared option",
            `{ services.no-such-service.enable = true; }`,
            "The option `services.no-such-service' does not exist",
          ],
          [
            "a removed option",
            `{ services.journald.extraConfig = "SystemMaxUse=1G"; }`,
            "services.journald.extraConfig",
          ],
          [
            "a value of the wrong type",
            `{ networking.hostId = "nas1"; }`,
            "is not of type",
          ],
          [
            "ZFS without a host id",
            `{ boot.supportedFilesystems = [ "zfs" ]; }`,
            "ZFS requires networking.hostId to be set",
          ],
          [
            "users locked out",
            `{ users.mutableUsers = false; }`,
            "Neither the root account nor any wheel user",
          ],
          [
            "kopia without a repository",
            `${kopia} { devops.services.kopia = { enable = true; repository = [ ]; passwordFile = "/run/p"; }; }`,
            "devops.services.kopia.repository",
          ],
        ];
        const results = await Promise.all(
          faults.map(([, module]) => nix.expr(system(`${hardening} ${module}`))),
        );
        // A package name the stub (like nixpkgs) lacks fails, through callPackage or not.
        const misspelt = await nix.expr(
          `(stub.legacyPackages.x86_64-linux.callPackage ({ no-such-package }: no-such-package) { }).drvPath`,
        );
        assertStringIncludes(nixError(misspelt), "callPackage needs no-such-package");
        const misspeltInModule = await nix.expr(
          system(`({ pkgs, ... }: { environment.systemPackages = [ pkgs.no-such-package ]; })`),
        );
        assertStringIncludes(nixError(misspeltInModule), "attribute 'no-such-package' missing");
        // A renamed option still evaluates, with a warning (which the host step prints).
        const warnings = json<string[]>(
          await nix.expr(
            `(stub.lib.nixosSystem { modules = [ { nixpkgs.hostPlatform = "x86_64-linux"; nix.gc.automatic = true; } ]; }).config.warnings`,
          ),
          "a renamed option",
        );
        assert(warnings.some((warning) => warning.includes("nix.gc.automatic")), `${warnings}`);
        faults.forEach(([what, , expected], i) => {
          const result = results[i]!;
          assert(result.code !== 0, `${what}: evaluated although it should fail`);
          assertStringIncludes(nixError(result), expected, what);
        });
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
