// What a folder holds, file by file, to prove a command changed nothing (e.g. a --dry-run).

/** Relative path → "dir", "link → target" or the SHA-256 of the file's bytes and its mode. */
export type TreeSnapshot = Map<string, string>;

/**
 * Every entry under `dir`, except the folders named in `skip` (by default `.git`, whose index
 * git itself refreshes on `git status`). Compare two snapshots with assertEquals.
 */
export async function snapshotTree(
  dir: string,
  skip: ReadonlySet<string> = new Set([".git"]),
): Promise<TreeSnapshot> {
  const snapshot: TreeSnapshot = new Map();
  const walk = async (relative: string) => {
    const entries = [];
    for await (const entry of Deno.readDir(`${dir}/${relative}`)) entries.push(entry);
    entries.sort((a, b) => a.name < b.name ? -1 : 1);
    for (const entry of entries) {
      const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
      if (entry.isDirectory) {
        if (skip.has(path)) continue;
        snapshot.set(path, "dir");
        await walk(path);
      } else if (entry.isSymlink) {
        snapshot.set(path, `link → ${await Deno.readLink(`${dir}/${path}`)}`);
      } else {
        const bytes = await Deno.readFile(`${dir}/${path}`);
        const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
        const hex = Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
        const mode = ((await Deno.stat(`${dir}/${path}`)).mode ?? 0) & 0o7777;
        snapshot.set(path, `${hex} ${mode.toString(8)}`);
      }
    }
  };
  await walk("");
  return snapshot;
}
