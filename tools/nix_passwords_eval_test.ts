// Login passwords in the offline evaluation (modules/nixos/mixins/mixin-passwords.nix): desk1's
// people get hashedPasswordFile from sops secrets installed before users (neededForUsers),
// servers get none, and a workstation where nobody could log in at the machine is refused.
// The offline evaluation of tools/testing/offline_eval.ts: the real input flakes from ../shared/nix-inputs
// and the stub nixpkgs. Run: deno test --allow-all tools/nix_passwords_eval_test.ts
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { assert, assertEquals, assertStringIncludes } from "./testing/assert.ts";
import {
  evalJson,
  NIX_INPUTS_DIR,
  offlineEvaluator,
  prepareOffline,
} from "./testing/offline_eval.ts";
import { createExampleClone } from "./testing/example_clone.ts";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const stubDir = join(root, "tools", "testing", "nixpkgs_stub");
const inputsDir = NIX_INPUTS_DIR;

/** `nix eval --json` of an attribute of the flake at `flake` with `--apply`, in the 26.05 model. */
async function prepare(dir: string, inputs: string, flake: string) {
  const nix = offlineEvaluator(await prepareOffline(dir, inputs, stubDir), "26.05", flake, flake);
  return (attribute: string, apply: string) => nix.flake(attribute, apply);
}

const json = evalJson;

/** A host with `module` added: the messages of its failed assertions. */
const failedWith = (module: string) =>
  `h: map (a: a.message) (builtins.filter (a: !a.assertion) (h.extendModules { modules = [ (${module}) ]; }).config.assertions)`;

if (inputsDir === undefined) {
  Deno.test({
    name: "nix eval (passwords): skipped, ../shared/nix-inputs is absent",
    ignore: true,
    fn() {},
  });
} else {
  Deno.test("nix eval: login passwords from sops, installed before users", async (t) => {
    const dir = await Deno.makeTempDir({ prefix: "nix-eval-passwords-" });
    // The example hosts (desk1 and its user sam) from git, with this checkout's modules: a
    // repository whose owner ran init has neither.
    await using fleet = await createExampleClone();
    try {
      const evaluate = await prepare(dir, inputsDir, fleet.dir);

      await t.step("desk1: admin and sam log in with hashes from secrets/desk1.yaml", async () => {
        const desk1 = json<{
          users: Record<string, string | null>;
          secrets: Record<
            string,
            { neededForUsers: boolean; path: string; key: string; file: string }
          >;
          sudoAsks: boolean;
          failed: string[];
        }>(
          await evaluate(
            "nixosConfigurations.desk1.config",
            `c: {
              users = builtins.mapAttrs (_: u: u.hashedPasswordFile) c.users.users;
              secrets = builtins.mapAttrs (_: s: { inherit (s) neededForUsers path key; file = toString s.sopsFile; }) c.sops.secrets;
              sudoAsks = c.security.sudo.wheelNeedsPassword;
              failed = map (a: a.message) (builtins.filter (a: !a.assertion) c.assertions);
            }`,
          ),
          "desk1",
        );
        assertEquals(desk1.failed, []);
        for (const user of ["admin", "sam"]) {
          const secret = desk1.secrets[`passwords/${user}`];
          assert(secret !== undefined, `no sops secret passwords/${user}`);
          assertEquals(secret.neededForUsers, true);
          assertEquals(secret.key, `passwords/${user}`);
          assertEquals(secret.path, `/run/secrets-for-users/passwords/${user}`);
          assert(secret.file.endsWith("/secrets/desk1.yaml"), secret.file);
          assertEquals(desk1.users[user], secret.path, `users.users.${user}.hashedPasswordFile`);
        }
        // Root has no console password unless devops.passwords.root is set.
        assertEquals(desk1.users.root, null);
        assertEquals(desk1.secrets["passwords/root"], undefined);
        // Every wheel user (admin) has a password here: sudo asks for it.
        assertEquals(desk1.sudoAsks, true);
      });

      await t.step(
        "desk1's system evaluates; users are made after their password secrets",
        async () => {
          const desk1 = json<{ toplevel: string; deps: string[]; secretsForUsers: boolean }>(
            await evaluate(
              "nixosConfigurations.desk1.config",
              `c: {
              toplevel = c.system.build.toplevel.drvPath;
              deps = c.system.activationScripts.users.deps;
              secretsForUsers = c.system.activationScripts ? setupSecretsForUsers;
            }`,
            ),
            "desk1's toplevel",
          );
          assert(desk1.toplevel.endsWith(".drv"), desk1.toplevel);
          assertEquals(desk1.deps, ["setupSecretsForUsers"]);
          assertEquals(desk1.secretsForUsers, true);
        },
      );

      await t.step("nas1, a server: no password logins, sudo asks nothing", async () => {
        const nas1 = json<{ users: Record<string, string | null>; names: string[]; sudo: boolean }>(
          await evaluate(
            "nixosConfigurations.nas1.config",
            `c: {
              users = builtins.mapAttrs (_: u: u.hashedPasswordFile) c.users.users;
              names = builtins.attrNames c.sops.secrets;
              sudo = c.security.sudo.wheelNeedsPassword;
            }`,
          ),
          "nas1",
        );
        assert(
          Object.values(nas1.users).every((file) => file === null),
          `${JSON.stringify(nas1.users)}`,
        );
        assert(!nas1.names.some((name) => name.startsWith("passwords/")), `${nas1.names}`);
        assertEquals(nas1.sudo, false);
      });

      await t.step("root's console password when devops.passwords.root is set", async () => {
        const root = json<{ file: string | null; needed: boolean }>(
          await evaluate(
            "nixosConfigurations.nas1",
            `h: let c = (h.extendModules { modules = [ { devops.passwords.root = true; } ]; }).config; in {
              file = c.users.users.root.hashedPasswordFile;
              needed = c.sops.secrets."passwords/root".neededForUsers;
            }`,
          ),
          "nas1 with root's password",
        );
        assertEquals(root, { file: "/run/secrets-for-users/passwords/root", needed: true });
      });

      await t.step("a workstation where nobody could log in is refused", async () => {
        const failed = json<string[]>(
          await evaluate(
            "nixosConfigurations.desk1",
            failedWith("{ devops.passwords.users = [ ]; }"),
          ),
          "desk1 with no password users",
        );
        assertEquals(failed.length, 1, `${failed}`);
        assertStringIncludes(failed[0]!, "desk1 is a workstation but nobody can log in at it");
        // Root's console password alone does not let anyone in at SDDM.
        const rootOnly = json<string[]>(
          await evaluate(
            "nixosConfigurations.desk1",
            failedWith("{ devops.passwords.users = [ ]; devops.passwords.root = true; }"),
          ),
          "desk1 with root only",
        );
        assertEquals(rootOnly.length, 1, `${rootOnly}`);
        const unknown = json<string[]>(
          await evaluate(
            "nixosConfigurations.desk1",
            failedWith(`{ devops.passwords.users = [ "admin" "kim" ]; }`),
          ),
          "desk1 with an undeclared user",
        );
        assertEquals(unknown.length, 1, `${unknown}`);
        assertStringIncludes(unknown[0]!, "no users.users.kim on desk1");
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}
