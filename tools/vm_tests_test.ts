// The VM test scripts of tests/vm, as far as they can be checked without a VM: each compiles
// and calls only the NixOS test driver's methods listed (with provenance) in
// tests/vm/driver-methods.tsv; a call outside the list, a misspelt one, or a script that does
// not compile fails. The checks' evaluation against the stub's model of the driver is a step
// of tools/nix_eval_test.ts; building and booting them needs KVM (`nix flake check`).
// Run from the repository root: deno test --allow-all tools/vm_tests_test.ts
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { assert, assertEquals } from "./testing/assert.ts";
import { checkScript, checkScriptText, DRIVER_METHODS } from "./testing/vm_scripts.ts";

const checkout = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const testsDir = join(checkout, "tests", "vm");

/** Each script of tests/vm and the names its machines are bound to. */
const scripts: Record<string, string[]> = {
  "host.py": ["host", "probe"],
  "disks.py": ["machine"],
};

Deno.test("vm tests: every script of tests/vm is checked here", async () => {
  const found: string[] = [];
  for await (const entry of Deno.readDir(testsDir)) {
    if (entry.isFile && entry.name.endsWith(".py")) found.push(entry.name);
  }
  assertEquals(found.sort(), Object.keys(scripts).sort());
});

for (const [name, machines] of Object.entries(scripts)) {
  Deno.test(`vm tests: ${name} compiles and calls only listed driver methods`, async () => {
    assertEquals(await checkScript(join(testsDir, name), machines), { kind: "ok" });
  });
}

Deno.test("vm tests: the list of driver methods has its provenance on every row", async () => {
  const rows = (await Deno.readTextFile(DRIVER_METHODS)).split("\n")
    .filter((line) => line !== "" && !line.startsWith("#")).map((line) => line.split("\t"));
  assertEquals(rows[0], ["name", "kind", "upstream_file", "read_at", "status", "note"]);
  for (const row of rows.slice(1)) {
    assertEquals(row.length, 6, `row ${row[0]}`);
    assert(row[1] === "machine" || row[1] === "global", `${row[0]}: kind ${row[1]}`);
    assert(/^nixos\/lib\/test-driver\//.test(row[2]!), `${row[0]}: upstream file ${row[2]}`);
    assert(/commit [0-9a-f]{40}/.test(row[3]!), `${row[0]}: no commit`);
    assert(["read", "confirmed", "unconfirmed"].includes(row[4]!), `${row[0]}: status ${row[4]}`);
  }
});

Deno.test("vm tests: a script calling a driver method the list omits fails the check", async () => {
  const script = [
    'host.wait_for_unit("multi-user.target")',
    'host.wait_for_unicorn("sshd.service")',
    "probe.screenshot('boot')",
    "prob.succeed('true')",
    "start_all()",
    "join_all()",
    "def helper():",
    "    return sorted([])",
    "helper()",
  ].join("\n");
  assertEquals(await checkScriptText(script, ["host", "probe"]), {
    kind: "unknown-calls",
    calls: ["2: host.wait_for_unicorn", "3: probe.screenshot", "4: prob.succeed", "6: join_all"],
  });
});

Deno.test("vm tests: a script that does not compile fails the check", async () => {
  const check = await checkScriptText('host.succeed("true"\nstart_all()\n', ["host"]);
  assertEquals(check.kind, "does-not-compile");
});

Deno.test("vm tests: host.py with a call outside the list fails the check", async () => {
  // The real script, one call renamed: the check reads the calls, not a fixed answer.
  const script = (await Deno.readTextFile(join(testsDir, "host.py")))
    .replace('host.wait_for_unit("sshd.service")', 'host.wait_for_service("sshd.service")');
  const check = await checkScriptText(script, ["host", "probe"]);
  assertEquals(check.kind, "unknown-calls");
  assert(
    check.kind === "unknown-calls" &&
      check.calls.some((call) => call.endsWith("host.wait_for_service")),
    JSON.stringify(check),
  );
});
