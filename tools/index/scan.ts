// Reading what the index plan needs: the files in the indexed folders, and which git tracks.

const SKIPPED_FOLDERS = new Set([".git", "node_modules", "result", ".direnv"]);

/** The files under the scanned folders, and the subset git tracks (undefined outside git). */
export interface RepoFiles {
  files: string[];
  tracked: Set<string> | undefined;
}

/**
 * Lists files with one `git ls-files` call: tracked files plus untracked ones that are not
 * ignored (a flake sees neither ignored nor deleted files). Outside a git checkout it walks the
 * folders instead. One process is faster than a walk, and the pre-commit hook runs this.
 */
export async function listRepoFiles(root: string, folders: readonly string[]): Promise<RepoFiles> {
  const fromGit = await gitFiles(root, folders);
  return fromGit ?? { files: walkFolders(root, folders), tracked: undefined };
}

async function gitFiles(root: string, folders: readonly string[]): Promise<RepoFiles | undefined> {
  // Two processes at once, one per core: the index with its deletions (an lstat per entry) and
  // the untracked files (a walk of the folders, honouring .gitignore); in one process git does
  // one after the other.
  const [indexed, others] = await Promise.all([
    git(root, ["-t", "--cached", "--deleted"], folders),
    git(root, ["--others", "--exclude-standard"], folders),
  ]);
  if (indexed === undefined || others === undefined) return undefined;
  const tracked = new Set<string>();
  const deleted = new Set<string>();
  for (const record of indexed) {
    // -t tags each path: H tracked (or another letter for a special state), R deleted.
    if (record.length < 3) continue;
    if (record[0] === "R") deleted.add(record.slice(2));
    else tracked.add(record.slice(2));
  }
  for (const path of deleted) tracked.delete(path);
  // No sort: the plan sorts what it writes, and git lists paths in order already.
  return { files: [...tracked, ...others.filter((path) => path !== "")], tracked };
}

/** Runs `git ls-files -z <args> -- <folders>`; undefined when git is missing or fails. */
async function git(
  root: string,
  args: readonly string[],
  folders: readonly string[],
): Promise<string[] | undefined> {
  let output: Deno.CommandOutput;
  try {
    output = await new Deno.Command("git", {
      args: ["ls-files", "-z", ...args, "--", ...folders],
      cwd: root,
      stdout: "piped",
      stderr: "null",
    }).output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
  return output.success ? new TextDecoder().decode(output.stdout).split("\0") : undefined;
}

/** Repository-relative paths of every file under `folders` (missing folders are skipped). */
export function walkFolders(root: string, folders: readonly string[]): string[] {
  const found: string[] = [];
  const walk = (relative: string) => {
    let entries: Iterable<Deno.DirEntry>;
    try {
      entries = Deno.readDirSync(`${root}/${relative}`);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return;
      throw error;
    }
    for (const entry of entries) {
      const path = `${relative}/${entry.name}`;
      if (entry.isDirectory) {
        if (!SKIPPED_FOLDERS.has(entry.name)) walk(path);
      } else {
        found.push(path);
      }
    }
  };
  folders.forEach(walk);
  return found.sort();
}
