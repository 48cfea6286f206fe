import { z } from "zod";
import { assertEquals, assertRejects, assertStringIncludes } from "../testing/assert.ts";
import { nixEvalJson } from "./nix.ts";
import { createRunner } from "./runner.ts";

const Hosts = z.record(z.string(), z.object({ address: z.string(), port: z.number() }));

Deno.test("nixEvalJson() returns what the real nix evaluates, validated", async () => {
  const value = await nixEvalJson(
    createRunner(),
    ["--expr", '{ web1 = { address = "192.0.2.1"; port = 22; }; }'],
    Hosts,
    { what: "host facts" },
  );
  assertEquals(value, { web1: { address: "192.0.2.1", port: 22 } });
});

Deno.test("nixEvalJson() names the field that does not fit the schema", async () => {
  const error = await assertRejects(() =>
    nixEvalJson(
      createRunner(),
      ["--expr", '{ web1 = { address = "192.0.2.1"; port = "22"; }; }'],
      Hosts,
      { what: "host facts" },
    )
  );
  assertStringIncludes(error.message, "Invalid host facts: web1.port:");
});

Deno.test("nixEvalJson() passes nix's own error line on", async () => {
  const error = await assertRejects(() =>
    nixEvalJson(createRunner(), ["--expr", "{ a = undefinedName; }"], Hosts, { what: "x" })
  );
  assertStringIncludes(error.message, "undefined variable 'undefinedName'");
});
