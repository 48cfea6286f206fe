import { assertEquals } from "../testing/assert.ts";
import { hostAddressProblem } from "./validate.ts";

Deno.test("hostAddressProblem() takes names, IPv4 and IPv6 addresses", () => {
  for (
    const ok of [
      "h",
      "nas1.lan",
      "web-1.example.com.",
      "10.0.0.5",
      "255.255.255.255",
      "fe80::1",
      "fe80::1%eth0",
      "::1",
      "2001:db8::",
      "2001:db8:0:0:0:0:0:1",
      "::ffff:10.0.0.1",
    ]
  ) {
    assertEquals(hostAddressProblem(ok), undefined, ok);
  }
});

Deno.test("hostAddressProblem() refuses malformed and unusable addresses, saying why", () => {
  const cases: [string, string][] = [
    ["::", "the unspecified address :: names no host"],
    [":::::", "not an IPv6 address: '::' more than once"],
    ["999.1.1.1", "not an IPv4 address: 999 is above 255"],
    ["1.2.3", "not an IPv4 address: 3 numbers, not 4"],
    ["010.0.0.1", 'not an IPv4 address: "010" has a leading zero (read as octal by some tools)'],
    ["0.0.0.0", "the unspecified address 0.0.0.0 names no host"],
    ["1:2:3:4:5:6:7:8:9", "not an IPv6 address: 9 groups, not 8"],
    ["1:2:3:4:5:6:7::8", "not an IPv6 address: 8 groups and '::'"],
    ["fe80::12345", 'not an IPv6 address: "12345" is not 1 to 4 hex digits'],
    ["fe80::1%", "not an IPv6 address: a bad %zone"],
    ["[::1]", 'not an IPv6 address: "[" is not 1 to 4 hex digits'],
    ["host:22", 'not an IPv6 address: "host" is not 1 to 4 hex digits'],
    ["-oProxyCommand=sh", "starts with '-' (ssh would read it as an option)"],
    [
      "root@10.0.0.5",
      'not an IPv4 address: "root@10" is not a number 0-255',
    ],
    ["a b", "not a host name: \"a b\" is not a DNS label (letters, digits, inner '-', at most 63)"],
    [
      "web-.lan",
      "not a host name: \"web-\" is not a DNS label (letters, digits, inner '-', at most 63)",
    ],
    ["", "empty"],
  ];
  for (const [bad, why] of cases) assertEquals(hostAddressProblem(bad), why, bad);
});
