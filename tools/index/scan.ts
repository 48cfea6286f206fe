// Reading what the index plan needs from disk and from git.

const SKIPPED_FOLDERS = new Set([".git", "node_modules", "result", ".direnv"]);

/** Repository-relative paths of every file under `folders` (missing folders are skipped). */
export async function listFiles(root: string, folders: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  async function walk(relative: string): Promise<void> {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(`${root}/${relative}`)];
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    const children: Promise<void>[] = [];
    for (const entry of entries) {
      const path = `${relative}/${entry.name}`;
      if (entry.isDirectory && !SKIPPED_FOLDERS.has(entry.name)) children.push(walk(path));
      else if (entry.isFile || entry.isSymlink) found.push(path);
    }
    await Promise.all(children);
  }
  await Promise.all(folders.map(walk));
  return found.sort();
}

/** Files git tracks or has staged under `root`, or undefined outside a git checkout. */
export async function trackedFiles(root: string): Promise<Set<string> | undefined> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("git", {
      args: ["ls-files", "-z", "--cached", "--", ...[
        "configurations",
        "modules",
        "overlays",
        "shells",
      ]],
      cwd: root,
      stdout: "piped",
      stderr: "null",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  if (!output.success) return undefined;
  const text = new TextDecoder().decode(output.stdout);
  return new Set(text.split("\0").filter(Boolean));
}
