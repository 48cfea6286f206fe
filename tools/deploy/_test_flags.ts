// The deploy flags that reach sshd test hosts: their client key only, unsigned fixture paths.
import type { TestHosts } from "../testing/test_hosts.ts";

/** Flags for `deploy` against `hosts` (tests and the benchmark). */
export function testHostFlags(hosts: TestHosts): string[] {
  return [
    "--no-check-sigs",
    "--ssh-option",
    `IdentityFile=${hosts.clientKey}`,
    "--ssh-option",
    "IdentitiesOnly=yes",
    "--ssh-option",
    "IdentityAgent=none",
  ];
}
