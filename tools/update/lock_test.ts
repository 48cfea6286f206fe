import { assertEquals, assertThrows } from "../testing/assert.ts";
import { lockArgv } from "./inputs.ts";
import { describeChanges, inputChanges, lockedInputs } from "./lock.ts";
import { nixFailure } from "./nix_errors.ts";
import { CommandError } from "../lib/errors.ts";

const lock = (revs: Record<string, string>) =>
  JSON.stringify({
    nodes: {
      root: {
        inputs: { ...Object.fromEntries(Object.keys(revs).map((n) => [n, n])), alias: ["a", "b"] },
      },
      ...Object.fromEntries(
        Object.entries(revs).map(([n, rev]) => [n, {
          locked: { type: "git", rev, lastModified: 1767225600, narHash: "sha256-x" },
        }]),
      ),
    },
    root: "root",
    version: 7,
  });

Deno.test("lockedInputs() reads each direct input's rev and date, not follows", () => {
  const inputs = lockedInputs(lock({ nixpkgs: "a".repeat(40) }));
  assertEquals([...inputs], [["nixpkgs", { rev: "a".repeat(40), date: "2026-01-01" }]]);
  assertThrows(() => lockedInputs("{"), "not JSON");
});

Deno.test("inputChanges() and describeChanges() show new, moved, unchanged and removed inputs", () => {
  const before = lockedInputs(lock({ a: "1".repeat(40), b: "2".repeat(40), c: "3".repeat(40) }));
  const after = lockedInputs(lock({ a: "4".repeat(40), b: "2".repeat(40), d: "5".repeat(40) }));
  assertEquals(describeChanges(inputChanges(before, after)), [
    "a  111111111111 (2026-01-01) -> 444444444444 (2026-01-01)",
    "b  222222222222 (2026-01-01) (unchanged)",
    "c  333333333333 (2026-01-01) -> removed",
    "d  new -> 555555555555 (2026-01-01)",
  ]);
  assertEquals(inputChanges(undefined, after).map((c) => c.kind), ["new", "new", "new"]);
});

Deno.test("lockArgv() speaks nix 2.8 and nix 2.19+", () => {
  assertEquals(lockArgv("nix (Nix) 2.8.0", "path:/r", []), ["nix", "flake", "update", "path:/r"]);
  assertEquals(lockArgv("nix (Nix) 2.8.0", "path:/r", ["a", "b"]), [
    "nix",
    "flake",
    "lock",
    "--update-input",
    "a",
    "--update-input",
    "b",
    "path:/r",
  ]);
  assertEquals(lockArgv("nix (Nix) 2.24.9", "path:/r", ["a"]), [
    "nix",
    "flake",
    "update",
    "--flake",
    "path:/r",
    "a",
  ]);
});

Deno.test("nixFailure() gives nix's error and the builder's last log line", () => {
  const error = new CommandError(
    "nix build …",
    1,
    "p> step one\np> it broke\nerror: builder for '/nix/store/x-p.drv' failed with exit code 1",
  );
  assertEquals(
    nixFailure(error),
    "builder for '/nix/store/x-p.drv' failed with exit code 1 (last log line: p> it broke)",
  );
});
