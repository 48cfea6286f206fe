import { assert, assertEquals, assertRejects } from "../../testing/assert.ts";
import {
  inspectJournal,
  JOURNAL_DIR,
  recordOutput,
  rollBack,
  sha256,
  startJournal,
} from "./journal.ts";
import { recover } from "./recovery.ts";
import { acquireLock, LOCK_FILE, runningHolder } from "./lock.ts";

async function tree(files: Record<string, string>): Promise<string> {
  const root = await Deno.makeTempDir({ prefix: "journal-test-" });
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(`${root}/${path}`.replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.writeTextFile(`${root}/${path}`, text);
  }
  return root;
}

/** A journal for a.yaml (re-keyed), .sops.yaml and new/b.yaml (created), then the run's writes. */
async function killedRun(root: string, written: Record<string, string>) {
  await startJournal(root, "test run", [
    { path: "secrets/a.yaml", kind: "rekey" },
    { path: ".sops.yaml", kind: "write" },
    { path: "secrets/new/b.yaml", kind: "write" },
  ]);
  for (const [path, text] of Object.entries(written)) {
    await recordOutput(root, path, await sha256(new TextEncoder().encode(text)));
    await Deno.mkdir(`${root}/${path}`.replace(/\/[^/]+$/, ""), { recursive: true });
    await Deno.writeTextFile(`${root}/${path}`, text);
  }
}

Deno.test("inspectJournal() tells each file as before, as the run wrote it, or changed since", async () => {
  const root = await tree({ "secrets/a.yaml": "a0", ".sops.yaml": "c0" });
  try {
    await killedRun(root, { ".sops.yaml": "c1", "secrets/a.yaml": "a1" });
    await Deno.writeTextFile(`${root}/secrets/a.yaml`, "edited");
    const report = await inspectJournal(root);
    assert(typeof report === "object");
    assertEquals(report.states, [
      { path: "secrets/a.yaml", state: "changed" },
      { path: ".sops.yaml", state: "after" },
      { path: "secrets/new/b.yaml", state: "before" },
    ]);
    await assertRejects(() => recover(root, "finish"), Error, "secrets/a.yaml changed since");
    assertEquals(await Deno.readTextFile(`${root}/secrets/a.yaml`), "edited");
    const undone = await recover(root, "abort");
    assertEquals(undone.kind === "rolled-back" && [undone.restored, undone.kept], [
      [".sops.yaml"],
      ["secrets/a.yaml"],
    ]);
    assertEquals(await Deno.readTextFile(`${root}/.sops.yaml`), "c0");
    assertEquals(await Deno.readTextFile(`${root}/secrets/a.yaml`), "edited");
    assertEquals(await inspectJournal(root), undefined);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("rollBack() deletes a file the run created and the folders it made for it", async () => {
  const root = await tree({ "secrets/a.yaml": "a0", ".sops.yaml": "c0" });
  try {
    await killedRun(root, { ".sops.yaml": "c1", "secrets/new/b.yaml": "b1" });
    const report = await inspectJournal(root);
    assert(typeof report === "object");
    assertEquals(await rollBack(root, report), {
      restored: [".sops.yaml", "secrets/new/b.yaml"],
      kept: [],
    });
    assert(!await Deno.stat(`${root}/secrets/new`).then(() => true, () => false));
    assert(await Deno.stat(`${root}/secrets`).then(() => true, () => false));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("recover() finishes a run whose own writes landed, undoes one whose writes did not", async () => {
  const root = await tree({ "secrets/a.yaml": "a0", ".sops.yaml": "c0" });
  try {
    await killedRun(root, { ".sops.yaml": "c1", "secrets/new/b.yaml": "b1" });
    const finishing = await recover(root, "finish");
    assertEquals(finishing.kind, "finishing");
    assertEquals(await Deno.readTextFile(`${root}/.sops.yaml`), "c1", "kept for the new plan");
    await killedRun(root, {}); // killed before any write
    const undone = await recover(root, "finish");
    assertEquals(undone.kind, "rolled-back");
    // A journal with no journal.json: killed while backing up, nothing changed; it just goes.
    await Deno.mkdir(`${root}/${JOURNAL_DIR}/backup`, { recursive: true });
    assertEquals((await recover(root, "finish")).kind, "none");
    assert(!await Deno.stat(`${root}/${JOURNAL_DIR}`).then(() => true, () => false));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("acquireLock() refuses a second holder, naming the first; the file goes on release", async () => {
  const root = await tree({});
  try {
    {
      await using _first = await acquireLock(root, "first run");
      await assertRejects(
        () => acquireLock(root, "second"),
        Error,
        `another rekey (pid ${Deno.pid}`,
      );
      assertEquals((await runningHolder(root))?.command, "first run");
    }
    assertEquals(await runningHolder(root), undefined);
    assert(!await Deno.stat(`${root}/${LOCK_FILE}`).then(() => true, () => false));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
