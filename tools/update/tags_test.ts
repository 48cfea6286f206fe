// Versions and tags as real upstreams spell them: Nix's own version order (checked against
// `nix eval`), tag shapes learnt from the current tag, and "unknown" instead of "up to date".
import { assertEquals } from "../testing/assert.ts";
import { runProgramOk } from "../testing/run.ts";
import { chooseUpdate } from "./policy.ts";
import type { Offer } from "./sources.ts";
import { learnTagShape, tagReading } from "./tags.ts";
import { compareVersions, isPrerelease, nixCompareVersions, parseVersion } from "./version.ts";

const PAIRS: [string, string][] = [
  ["1.0", "1.0.0"],
  ["1.2.3", "1.2.3"],
  ["1.10", "1.9"],
  ["rc.9", "rc.10"],
  ["rc9", "rc10"],
  ["1.0pre1", "1.0"],
  ["2.3a", "2.3.1"],
  ["1.2.3", "1.2.3.post1"],
  ["alpha", "beta"],
  ["", "1"],
  ["", "a"],
  ["w", "v"],
  ["2024-03-02", "2024-01-15"],
  ["1.2.3-rc.1", "1.2.3"],
  ["0.9.1", "0.10.0"],
  ["r130", "r123"],
  ["1_5_0", "1_4_9"],
  ["pre", "a"],
  ["1.0-pre", "1.0-pre"],
];

Deno.test("nixCompareVersions() agrees with nix's builtins.compareVersions on every case", async () => {
  const expr = `[ ${PAIRS.map(([a, b]) => `(builtins.compareVersions "${a}" "${b}")`).join(" ")} ]`;
  const nix = JSON.parse(await runProgramOk(["nix", "eval", "--json", "--expr", expr])) as number[];
  assertEquals(PAIRS.map(([a, b]) => nixCompareVersions(a, b)), nix);
});

const order = (a: string, b: string) => compareVersions(parseVersion(a)!, parseVersion(b)!);

Deno.test("compareVersions(): rc.10 after rc.9, build metadata never newer, post-releases after", () => {
  assertEquals(order("1.4.0-rc.10", "1.4.0-rc.9"), 1);
  assertEquals(order("1.4.0-rc10", "1.4.0-rc9"), 1);
  assertEquals(order("1.2.3+build.7", "1.2.3"), 0);
  assertEquals(order("1.2.3.post1", "1.2.3"), 1);
  assertEquals(isPrerelease(parseVersion("1.2.3.post1")!), false);
  assertEquals(isPrerelease(parseVersion("1.1.1w")!), false);
  assertEquals(isPrerelease(parseVersion("9.6p1")!), false);
  assertEquals(isPrerelease(parseVersion("2.0b1")!), true);
  assertEquals(order("1.1.1w", "1.1.1v"), 1);
  assertEquals(order("1.4.0-rc.1", "1.4.0"), -1);
});

Deno.test("parseVersion() reads date tags as dates, not as 2024 with a pre-release suffix", () => {
  const date = parseVersion("2024-03-02")!;
  assertEquals(date.numbers, [2024, 3, 2]);
  assertEquals(isPrerelease(date), false);
  assertEquals(order("2024-03-02", "2024-01-15"), 1);
});

const tags = (...names: string[]): Offer[] => names.map((rev) => ({ rev, prerelease: false }));

function choose(version: string, currentTag: string | undefined, offered: Offer[], regex?: string) {
  return chooseUpdate({ version }, offered, {
    track: "release",
    prerelease: false,
    reading: tagReading(version, currentTag, regex),
    upstream: "GitHub o/r",
  });
}

Deno.test("the tag shape is learnt from the current version and tag", () => {
  const cases: [string, string, string[], string, string][] = [
    // version, current tag, offered tags, expected version, expected tag
    ["1.2.0", "release-1.2.0", ["release-1.2.0", "release-1.3.0"], "1.3.0", "release-1.3.0"],
    ["1.7", "jq-1.7", ["jq-1.7", "jq-1.7.1"], "1.7.1", "jq-1.7.1"],
    ["8.4.0", "curl-8_4_0", ["curl-8_4_0", "curl-8_5_0"], "8.5.0", "curl-8_5_0"],
    [
      "0.9.1",
      "cargo-nextest-0.9.1",
      ["cargo-nextest-0.9.2", "cargo-nextest-0.9.1"],
      "0.9.2",
      "cargo-nextest-0.9.2",
    ],
    ["123", "r123", ["r123", "r130"], "130", "r130"],
    ["1.1.1v", "OpenSSL_1_1_1v", ["OpenSSL_1_1_1v", "OpenSSL_1_1_1w"], "1.1.1w", "OpenSSL_1_1_1w"],
    ["2024-01-15", "2024-01-15", ["2024-01-15", "2024-03-02"], "2024-03-02", "2024-03-02"],
    ["1.0.0", "refs/tags/v1.0.0", ["v1.0.0", "v1.1.0"], "1.1.0", "v1.1.0"],
    ["1.2.3", "v1.2.3", ["v1.2.3", "v1.2.3.post1"], "1.2.3.post1", "v1.2.3.post1"],
  ];
  for (const [version, current, offered, want, tag] of cases) {
    assertEquals(
      choose(version, current, tags(...offered)),
      { kind: "newer", candidate: { rev: tag, prerelease: false, version: want } },
      `${current} -> ${tag}`,
    );
  }
  assertEquals(learnTagShape("1.2", "v1.2.3"), undefined);
});

Deno.test("updateInfo.versionRegex reads tags the shape cannot (group 1, else the match)", () => {
  assertEquals(
    choose("1.2.0", "deadbeef", tags("app/v1.2.0", "app/v1.3.0", "lib/v9.0.0"), "^app/v(.*)$"),
    { kind: "newer", candidate: { rev: "app/v1.3.0", prerelease: false, version: "1.3.0" } },
  );
});

Deno.test("an upstream with no tag the tool can read is unknown with the reason, never up to date", () => {
  assertEquals(choose("1.2.0", "v1.2.0", tags("release-1.3.0", "nightly")), {
    kind: "unknown",
    reason:
      'none of the 2 tag(s) of GitHub o/r ("release-1.3.0", "nightly") reads as a version by the shape of the current tag "v1.2.0"; set updateInfo.versionRegex',
  });
  assertEquals(choose("1.2.0", undefined, []), {
    kind: "unknown",
    reason: "GitHub o/r offers no releases and no tags",
  });
});
