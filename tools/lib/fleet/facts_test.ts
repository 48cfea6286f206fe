import { assertEquals, assertThrows } from "../../testing/assert.ts";
import { parseFleetFacts } from "./facts.ts";

const full = {
  deployable: true,
  address: "192.0.2.10",
  port: 22,
  user: "root",
  tags: ["server"],
  buildOn: "local" as const,
  confirmTimeout: 30,
  activationTimeout: 300,
  healthCheckTimeout: 60,
  copyTimeout: 3600,
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
  assertEquals(facts.web1, {
    ...full,
    deployable: false,
    address: "a",
    tags: [],
    healthChecks: [],
  });
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

Deno.test("parseFleetFacts() refuses addresses, users, tags and health checks that are no plain values", () => {
  const refused: [string, unknown, string][] = [
    ["address", "$(touch x)192.0.2.1", "address: expected a host name"],
    ["address", "192.0.2.1;touch x", "address: expected a host name"],
    ["address", "`id`", "address: expected a host name"],
    ["address", "-oProxyCommand=x", "address: expected a host name"],
    ["address", "*", "address: expected a host name"],
    ["address", "a b", "address: expected a host name"],
    ["address", "192.0.2.1?remote-program=x", "address: expected a host name"],
    ["address", "root@192.0.2.1", "address: expected a host name"],
    ["address", "[192.0.2.1]", "address: expected a host name"],
    ["address", "", "address: expected a host name"],
    ["user", "root;id", "user: expected a user name"],
    ["user", "-oProxyCommand=x", "user: expected a user name"],
    ["user", "$(id)", "user: expected a user name"],
    ["user", "a b", "user: expected a user name"],
    ["tags", ["$(touch x)"], "tags.0: expected a tag"],
    ["tags", ["a b"], "tags.0: expected a tag"],
    [
      "healthChecks",
      ["-oProxyCommand=touch /tmp/x"],
      "healthChecks.0: a health check is a command",
    ],
    ["healthChecks", ["true\nid"], "healthChecks.0: a health check is one line"],
    ["activationTimeout", 0, "activationTimeout:"],
    ["healthCheckTimeout", "60", "healthCheckTimeout:"],
    ["copyTimeout", 0, "copyTimeout:"],
  ];
  for (const [field, value, message] of refused) {
    assertThrows(
      () => parseFleetFacts({ web1: { ...full, [field]: value } }),
      `Invalid deploy facts of host "web1": ${message}`,
    );
  }
});

Deno.test("parseFleetFacts() takes host names and IP literals; IPv6 without brackets", () => {
  for (
    const [given, kept] of [
      ["nas1.example.org", "nas1.example.org"],
      ["nas1", "nas1"],
      ["192.0.2.10", "192.0.2.10"],
      ["2001:db8::1", "2001:db8::1"],
      ["[2001:db8::1]", "2001:db8::1"],
      ["fe80::1%eth0", "fe80::1%eth0"],
    ]
  ) {
    assertEquals(parseFleetFacts({ web1: { ...full, address: given } }).web1!.address, kept);
  }
});
