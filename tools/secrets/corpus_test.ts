// Issue 20: the real `.sops.yaml` files of public NixOS configurations (and, for some, their
// encrypted files) in tools/testing/fixtures/sops-corpus/, each run through `deno task secrets
// access` and `deno task rekey --check` as users run them, in a repository laid out like ours.
// The files are data (see MANIFEST.json for where each comes from); the code reading them is ours.
import YAML from "yaml";
import { assert, assertEquals } from "../testing/assert.ts";
import { createTempRepo } from "../testing/temp_repo.ts";
import { createProgramsBin, installToolkit, runTask } from "../testing/task.ts";
import { readSopsMetadata } from "../lib/sops/sops_metadata.ts";
import { SECRETS_PROGRAMS } from "./_test_support.ts";

const CORPUS = new URL("../testing/fixtures/sops-corpus/", import.meta.url).pathname;

interface Entry {
  id: string;
  repo: string;
  commit: string;
  path: string;
  encrypted: string[];
  constructs: string[];
  note: string;
  /** SHA-256 of each file as copied: the files stay byte for byte as their authors wrote them. */
  sha256: Record<string, string>;
}

const manifest = JSON.parse(await Deno.readTextFile(`${CORPUS}MANIFEST.json`)) as {
  files: Entry[];
};

/** The constructs the issue asks the corpus to hold, each in at least one file. */
const REQUIRED = [
  "age",
  "pgp",
  "nested-anchor-lists",
  "no-keys-list",
  "folded",
  "key_groups",
  "shamir_threshold",
  "stores",
  "encrypted_regex",
  "case-insensitive",
  "catch-all-rule",
  "outside-secrets",
  "yubikey",
  "ssh",
  "comments",
];

function read(entry: Entry, path: string): string {
  return Deno.readTextFileSync(`${CORPUS}${entry.id}/${path}`);
}

type Rule = Record<string, unknown>;

/** Whether a file shows a construct, read from its text (and its encrypted files). */
const DETECT: Record<string, (text: string, rules: Rule[], encrypted: string) => boolean> = {
  "age": (t) => /age1[02-9ac-hj-np-z]{20,}/.test(t),
  "pgp": (t) => t.includes("pgp"),
  "pgp-anchor": (t) => /&\S+ +(?:[0-9A-F]{4} ?){10}\s*$/m.test(t),
  "comma-strings": (t) => /age: *"?age1\w+, *age1/.test(t),
  "nested-anchor-lists": (t) => /^\s*- &\S+\s*(#.*)?$/m.test(t),
  "no-keys-list": (t) => !/^keys:/m.test(t),
  "folded": (t) => /:\s*>-?\s*$/m.test(t),
  "key_groups": (t) => t.includes("key_groups:"),
  "shamir_threshold": (t, _r, e) =>
    t.includes("shamir_threshold") || e.includes("shamir_threshold"),
  "stores": (t) => /^stores:/m.test(t),
  "encrypted_regex": (t) => t.includes("encrypted_regex:"),
  "case-insensitive": (t) => t.includes("(?i)"),
  "catch-all-rule": (_t, r) => r.some((rule) => !("path_regex" in rule)),
  "outside-secrets": (_t, r) =>
    r.some((rule) => "path_regex" in rule && !/^\^?secrets\//.test(String(rule.path_regex))),
  "yubikey": (t) => t.includes("age1yubikey1"),
  "ssh": (t) => /ssh-(ed25519|rsa) AAAA/.test(t),
  "comments": (t) => /(^|\s)#/m.test(t),
  "hyphen-anchor": (t) => /&[A-Za-z0-9_]+-[A-Za-z0-9_-]+/.test(t),
  "keys-mapping": (t) => {
    const keys = (YAML.parse(t, { logLevel: "error" }) as Record<string, unknown> | null)?.keys;
    return typeof keys === "object" && keys !== null && !Array.isArray(keys);
  },
};

function rulesOf(text: string): Rule[] {
  const doc = YAML.parse(text, { uniqueKeys: false, logLevel: "error" }) as {
    creation_rules?: unknown;
  } | null;
  return Array.isArray(doc?.creation_rules) ? doc.creation_rules as Rule[] : [];
}

Deno.test("the sops corpus holds 25 files or more, every construct of the issue, each tag true", async () => {
  const files = manifest.files;
  assert(files.length >= 25, `${files.length} files`);
  for (const construct of REQUIRED) {
    assert(
      files.some((e) => e.constructs.includes(construct)),
      `no corpus file shows ${construct}`,
    );
  }
  for (const entry of files) {
    assert(/^[0-9a-f]{40}$/.test(entry.commit), `${entry.id}: commit`);
    assert(/^[\w.-]+\/[\w.-]+$/.test(entry.repo), `${entry.id}: repo`);
    const text = read(entry, ".sops.yaml");
    const encrypted = entry.encrypted.map((p) => read(entry, p)).join("\n");
    for (const construct of entry.constructs) {
      const detect = DETECT[construct];
      assert(detect !== undefined, `${entry.id}: unknown construct ${construct}`);
      assert(detect(text, rulesOf(text), encrypted), `${entry.id}: does not show ${construct}`);
    }
    for (const path of entry.encrypted) {
      assert(readSopsMetadata(read(entry, path)) !== null, `${entry.id}/${path}: no sops metadata`);
    }
    for (const [path, sum] of Object.entries(entry.sha256)) {
      const bytes = Deno.readFileSync(`${CORPUS}${entry.id}/${path}`);
      const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
      const hex = [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
      assertEquals(hex, sum, `${entry.id}/${path} changed since it was copied`);
    }
  }
});

/** Anchor name → recipients, read straight from the text (`&name value`, comma lists split). */
function anchorsOf(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of text.matchAll(/&([^\s,\]}]+)[ \t]+([^\n#]+)/g)) {
    const value = m[2]!.trim().replace(/^["']|["']$/g, "");
    const parts = /^[0-9A-Fa-f ]{40,}$/.test(value)
      ? [value.replace(/\s+/g, "").toUpperCase()]
      : value.split(",").map((v) => v.trim()).filter(Boolean);
    out.set(m[1]!, parts);
  }
  return out;
}

interface AccessJson {
  columns: { name: string }[];
  rows: { path: string; access: Record<string, boolean>; share: Record<string, boolean> }[];
}

const TRACE = /\n\s+at |Stack backtrace|Uncaught|node_modules|\bat file:\/\//;

Deno.test("secrets access and rekey --check on every corpus file: a report or one line naming the construct", async () => {
  await using bin = await createProgramsBin(SECRETS_PROGRAMS);
  const figures = { files: 0, read: 0, clean: 0, refused: [] as string[] };
  for (const entry of manifest.files) {
    figures.files++;
    const tree: Record<string, string> = {
      "flake.nix": "{ }\n",
      "configurations/installer/default.nix": "{ }\n",
      ".sops.yaml": read(entry, ".sops.yaml"),
    };
    for (const path of entry.encrypted) tree[path] = read(entry, path);
    await using repo = await createTempRepo(tree, { commit: false });
    await installToolkit(repo.dir);
    // As users run them: no identity at all (both read nothing secret).
    const env = { SOPS_AGE_KEY_FILE: `${repo.dir}/no-such-key.txt` };
    let refused: string | undefined;
    for (const args of [["access"], ["access", "--json"]]) {
      const r = await runTask(repo.dir, "secrets", args, { bin, env });
      const what = `${entry.id}: secrets ${args.join(" ")}`;
      assert(r.code === 0 || r.code === 1, `${what}: exit ${r.code}: ${r.stderr}`);
      assert(!TRACE.test(r.stderr), `${what}: ${r.stderr}`);
      if (r.code === 1) {
        const lines = r.stderr.trim().split("\n");
        assertEquals(lines.length, 1, `${what}: ${r.stderr}`);
        assert(lines[0]!.startsWith("error: Cannot "), `${what}: ${r.stderr}`);
        refused = lines[0];
        continue;
      }
      if (args.length === 1) continue;
      // Every recipient in each file's own metadata is shown for that file.
      const table = JSON.parse(r.stdout) as AccessJson;
      const anchors = anchorsOf(read(entry, ".sops.yaml"));
      for (const path of entry.encrypted.filter((p) => p.startsWith("secrets/"))) {
        const metadata = readSopsMetadata(read(entry, path))!;
        const row = table.rows.find((x) => x.path === path);
        assert(row !== undefined, `${what}: no row for ${path}`);
        const ids = [...metadata.age, ...metadata.pgp.map((fp) => fp.toUpperCase())];
        for (const id of ids) {
          const named = [...anchors].find(([, values]) => values.includes(id))?.[0];
          const column = table.columns.find((c) =>
            c.name === named || c.name === `unknown ${id}` || c.name === `unknown pgp:${id}`
          );
          assert(column !== undefined, `${what}: ${path}: ${id} has no column`);
          assert(row.access[column.name] || row.share[column.name], `${what}: ${path}: ${id}`);
        }
      }
    }
    const check = await runTask(repo.dir, "rekey", ["--check"], { bin, env });
    const what = `${entry.id}: rekey --check`;
    if (check.code === 0) figures.clean++;
    assert(check.code === 0 || check.code === 1, `${what}: exit ${check.code}: ${check.stderr}`);
    assert(!TRACE.test(check.stderr), `${what}: ${check.stderr}`);
    if (check.code === 1 && check.stdout.trim() === "") {
      const lines = check.stderr.trim().split("\n");
      assertEquals(lines.length, 1, `${what}: ${check.stderr}`);
      assert(lines[0]!.startsWith("error: Cannot "), `${what}: ${check.stderr}`);
      refused ??= lines[0];
    }
    if (refused === undefined) figures.read++;
    else figures.refused.push(`${entry.id}: ${refused}`);
  }
  // The figures for the closing note (printed, not asserted: they describe the corpus).
  console.log(
    `corpus: ${figures.files} files, ${figures.read} read by access and --check (${figures.clean} in step, ${
      figures.files - figures.clean
    } with findings), ${figures.refused.length} refused${
      figures.refused.map((r) => `\n  ${r}`).join("")
    }`,
  );
});
