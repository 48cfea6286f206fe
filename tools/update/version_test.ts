import { assertEquals, assertThrows } from "../testing/assert.ts";
import { chooseUpdate } from "./policy.ts";
import { tagReading } from "./tags.ts";
import type { Candidate } from "./sources.ts";
import {
  compareVersions,
  isPrerelease,
  parseVersion,
  unstableDate,
  unstableVersion,
} from "./version.ts";

const v = (text: string) => parseVersion(text)!;

Deno.test("parseVersion() reads tags with and without v, and refuses names", () => {
  assertEquals(v("v1.2.3"), { text: "1.2.3", numbers: [1, 2, 3], suffix: "", build: "" });
  assertEquals(v("1.3.0-rc.1"), {
    text: "1.3.0-rc.1",
    numbers: [1, 3, 0],
    suffix: "rc.1",
    build: "",
  });
  assertEquals(v("2.0b1").suffix, "b1");
  assertEquals(parseVersion("nightly"), undefined);
  assertEquals(parseVersion("release-1"), undefined);
  assertEquals(isPrerelease(v("1.0.0+build.5")), false);
  assertEquals(isPrerelease(v("1.0.0-beta")), true);
});

Deno.test("compareVersions() orders numerically, missing parts as 0, stable after pre-release", () => {
  const sorted = ["1.10.0", "1.2", "1.9.1", "1.10.0-rc.1", "1.2.0.1", "0.9"]
    .map(v).sort(compareVersions).map((p) => p.text);
  assertEquals(sorted, ["0.9", "1.2", "1.2.0.1", "1.9.1", "1.10.0-rc.1", "1.10.0"]);
  assertEquals(compareVersions(v("1.2"), v("1.2.0")), 0);
});

Deno.test("unstableVersion() takes the commit date in UTC; unstableDate() reads it back", () => {
  assertEquals(unstableVersion("2026-04-20T23:30:00-02:00"), "0-unstable-2026-04-21");
  assertEquals(unstableDate("0-unstable-2026-01-23"), "2026-01-23");
  assertEquals(unstableDate("1.2.3"), undefined);
  assertThrows(() => unstableVersion("yesterday"));
});

const PLAIN = { reading: tagReading("1.0.0", undefined, undefined), upstream: "GitHub o/r" };

const release = (version: string, prerelease = false): Candidate => ({
  version,
  rev: `v${version}`,
  prerelease,
});

Deno.test("chooseUpdate() picks the newest stable release, pre-releases only when asked", () => {
  const offered = [
    release("1.2.0"),
    release("1.4.0-rc.1", true),
    release("1.3.0"),
    release("1.3.1-beta"),
  ];
  const options = { track: "release" as const, prerelease: false, ...PLAIN };
  assertEquals(chooseUpdate({ version: "1.2.0" }, offered, options), {
    kind: "newer",
    candidate: release("1.3.0"),
  });
  assertEquals(
    chooseUpdate({ version: "1.2.0" }, offered, { ...options, prerelease: true }),
    { kind: "newer", candidate: release("1.4.0-rc.1", true) },
  );
  assertEquals(chooseUpdate({ version: "1.3.0" }, offered, options), {
    kind: "up-to-date",
    newest: "1.3.0",
  });
});

Deno.test("chooseUpdate() never downgrades", () => {
  const options = { track: "release" as const, prerelease: false, ...PLAIN };
  assertEquals(chooseUpdate({ version: "2.0.0" }, [release("1.9.0")], options), {
    kind: "ahead",
    newest: "1.9.0",
  });
  assertEquals(chooseUpdate({ version: "2.0.0" }, [], options), {
    kind: "unknown",
    reason: "GitHub o/r offers no releases and no tags",
  });
  const branch = { track: "branch" as const, prerelease: false, ...PLAIN };
  const older = { version: "0-unstable-2026-01-01", rev: "b".repeat(40), prerelease: false };
  assertEquals(
    chooseUpdate({ version: "0-unstable-2026-02-01", rev: "a".repeat(40) }, [older], branch),
    { kind: "ahead", newest: "0-unstable-2026-01-01" },
  );
});

Deno.test("chooseUpdate() on a branch follows a new commit, even on the same day", () => {
  const branch = { track: "branch" as const, prerelease: false, ...PLAIN };
  const head = { version: "0-unstable-2026-02-01", rev: "b".repeat(40), prerelease: false };
  assertEquals(
    chooseUpdate({ version: "0-unstable-2026-02-01", rev: "a".repeat(40) }, [head], branch),
    { kind: "newer", candidate: head },
  );
  assertEquals(
    chooseUpdate({ version: "0-unstable-2026-02-01", rev: "b".repeat(40) }, [head], branch),
    { kind: "up-to-date", newest: "0-unstable-2026-02-01" },
  );
});
