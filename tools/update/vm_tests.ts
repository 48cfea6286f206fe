// `update --inputs --vm-test`: the VM tests of the hosts an input move changes, built (run) in
// the work copy after the rebuild and before the lock is written. The checks are the flake's
// `checks.<system>.vm-<name>` (NixOS test driver; they need KVM to run).
import { nixEvalJson } from "../lib/nix.ts";
import type { Runner } from "../lib/runner.ts";
import { z } from "zod";

/**
 * The names of the flake checks that test `host` in a VM (under `checks.<system>`), as
 * lib/flake-modules/vm-tests.nix names them: the host's own test (`vm-<host>`) and, for a host
 * with a disko layout that has one, its disk-layout test (`vm-<host>-disks`).
 */
export function vmCheckNames(host: string): string[] {
  return [`vm-${host}`, `vm-${host}-disks`];
}

/** One VM test's result. */
export type VmTestResult =
  | { kind: "passed" }
  | { kind: "failed"; message: string }
  /** The flake has no VM test for the host. */
  | { kind: "none" };

/** A VM test of a host: its check attribute (`checks.<system>.<name>`) and result. */
export interface VmTest {
  host: string;
  /** `checks.<system>.<name>`, or undefined when the host has none. */
  check: string | undefined;
  result: VmTestResult;
}

/** The checks to run for `hosts`, given every system's check names; hosts without one listed. */
export function planVmTests(
  hosts: readonly string[],
  checks: Readonly<Record<string, readonly string[]>>,
): { host: string; check: string | undefined }[] {
  const planned: { host: string; check: string | undefined }[] = [];
  for (const host of hosts) {
    const found: string[] = [];
    for (const [system, names] of Object.entries(checks).sort(([a], [b]) => a.localeCompare(b))) {
      for (const name of vmCheckNames(host)) {
        if (names.includes(name)) found.push(`checks.${system}.${name}`);
      }
    }
    if (found.length === 0) planned.push({ host, check: undefined });
    for (const check of found) planned.push({ host, check });
  }
  return planned;
}

/** Options of {@linkcode runVmTests}. */
export interface VmTestOptions {
  /** The flake (the work copy) whose checks to build. */
  flake: string;
  timeoutMs: number;
  evalTimeoutMs: number;
  /** Why a nix command failed, one line (update's nix error reader). */
  describe: (error: unknown) => string;
}

/** Runs the VM tests of `hosts` one after another (each boots VMs); stops at the first failure. */
export async function runVmTests(
  runner: Runner,
  hosts: readonly string[],
  options: VmTestOptions,
): Promise<VmTest[]> {
  if (hosts.length === 0) return [];
  const checks = await nixEvalJson(
    runner,
    [
      `${options.flake}#checks`,
      "--apply",
      "builtins.mapAttrs (system: checks: builtins.attrNames checks)",
    ],
    z.record(z.string(), z.array(z.string())),
    { what: "the flake's checks", timeoutMs: options.evalTimeoutMs },
  ).catch((error) => {
    // A flake with no checks output has no VM test of any host.
    if (/does not provide attribute/.test(options.describe(error))) return {};
    throw error;
  });
  const results: VmTest[] = [];
  for (const { host, check } of planVmTests(hosts, checks)) {
    if (check === undefined) {
      results.push({ host, check, result: { kind: "none" } });
      continue;
    }
    runner.log(`${host}: VM test ${check}`);
    const [, system, name] = check.split(".");
    try {
      await runner.run({
        argv: ["nix", "build", "-L", "--no-link", `${options.flake}#checks.${system}."${name}"`],
        timeoutMs: options.timeoutMs,
      });
      results.push({ host, check, result: { kind: "passed" } });
    } catch (error) {
      results.push({ host, check, result: { kind: "failed", message: options.describe(error) } });
      break;
    }
  }
  return results;
}

/** One line of the report and the commit message. */
export function vmTestSummary(test: VmTest): string {
  switch (test.result.kind) {
    case "passed":
      return `${test.host}: VM test ${test.check} passed`;
    case "failed":
      return `${test.host}: VM test ${test.check} failed: ${test.result.message}`;
    case "none":
      return `${test.host}: no VM test (no checks.<system>.${vmCheckNames(test.host)[0]})`;
  }
}
