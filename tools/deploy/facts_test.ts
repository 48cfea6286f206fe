import { assertEquals, assertThrows } from "../testing/assert.ts";
import { parseFleetFacts } from "./facts.ts";

const full = {
  deployable: true,
  address: "192.0.2.10",
  port: 22,
  user: "root",
  tags: ["server"],
  buildOn: "local" as const,
  confirmTimeout: 30,
  healthChecks: ["systemctl is-system-running --wait"],
  system: "x86_64-linux",
};

Deno.test("parseFleetFacts() accepts the contract's facts as they are", () => {
  assertEquals(parseFleetFacts({ web1: full }), { web1: full });
});

Deno.test("parseFleetFacts() fills defaults for optional fields", () => {
  const facts = parseFleetFacts({
    web1: { deployable: false, address: "a", system: "x86_64-linux" },
  });
  assertEquals(facts.web1, { ...full, deployable: false, address: "a", tags: [] });
});

Deno.test("parseFleetFacts() names the host and the field of a bad fact", () => {
  assertThrows(
    () => parseFleetFacts({ web1: { ...full, port: "22" } }),
    'Invalid deploy facts of host "web1": port: expected number, received string',
  );
  assertThrows(
    () => parseFleetFacts({ db1: { ...full, address: undefined } }),
    'Invalid deploy facts of host "db1": address: expected string, received undefined',
  );
  assertThrows(
    () => parseFleetFacts({ db1: { ...full, buildOn: "there" } }),
    'host "db1": buildOn',
  );
  assertThrows(
    () => parseFleetFacts({ db1: { ...full, tag: [] } }),
    'host "db1": unknown field "tag"',
  );
  assertThrows(() => parseFleetFacts({ "bad name": full }), '"bad name" is not a valid host name');
  assertThrows(() => parseFleetFacts({ _x: full }), '"_x" is not a valid host name');
  assertThrows(() => parseFleetFacts([]), "not an attribute set");
});
