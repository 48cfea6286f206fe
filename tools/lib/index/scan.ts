// Reading what the index plan needs: the files in the indexed folders, and which git tracks.
import { CommandError } from "../errors.ts";
import { createProcessRunner } from "../process_runner.ts";

/** A plan, and the files it was made from that git does not track (undefined outside git). */
export interface PlannedFrom<T> {
  plan: T;
  untracked: ReadonlySet<string> | undefined;
}

/** How the working tree differs from git's index, in the scanned folders. */
interface TreeChanges {
  /** In the index, gone from disk: a flake cannot see them. */
  deleted: string[];
  /** On disk, not in the index and not ignored. */
  untracked: string[];
}

/**
 * Lists the files and plans from them, overlapping the two: git's index alone is listed in a
 * few milliseconds, so the plan is made from it while a second git process looks for deleted
 * and untracked files (an lstat per file and a walk of the folders); only when that finds a
 * path `matters` for the plan is it made again. A flake sees tracked files that exist, so
 * tracked files are the plan's input; untracked files that are not ignored are added too (with
 * a warning from the caller) unless `withUntracked` is false. Outside a git checkout it walks
 * the folders instead.
 */
export async function planFromRepo<T>(
  root: string,
  folders: readonly string[],
  planner: Promise<(files: readonly string[]) => T>,
  matters: (path: string) => boolean,
  options: { withUntracked: boolean } = { withUntracked: true },
): Promise<PlannedFrom<T>> {
  const indexed = gitLines(root, ["--cached"], folders);
  const changes = gitLines(root, ["-t", "--deleted", "--others", "--exclude-standard"], folders)
    .then((lines) => lines === undefined ? undefined : treeChanges(lines));
  // Every promise gets a handler at once: one failing while another is awaited is no crash.
  const settled = Promise.all([indexed, changes, planner]);
  settled.catch(() => {});
  const [files, plan] = await Promise.all([indexed, planner]);
  // Planned while the second git process still runs. A plan that fails (two files with one
  // name) may be made good by a deletion still to be reported, so its error waits too.
  let first: { plan: T } | { error: unknown } | undefined;
  if (files !== undefined) {
    try {
      first = { plan: plan(files) };
    } catch (error) {
      first = { error };
    }
  }
  const changed = await changes;
  if (files === undefined || changed === undefined) {
    return { plan: plan(walkFolders(root, folders)), untracked: undefined };
  }
  const untracked = new Set(changed.untracked);
  const added = options.withUntracked ? changed.untracked : [];
  if (first !== undefined && !changed.deleted.some(matters) && !added.some(matters)) {
    if ("error" in first) throw first.error;
    return { plan: first.plan, untracked };
  }
  const deleted = new Set(changed.deleted);
  const present = files.filter((path) => !deleted.has(path));
  return { plan: plan([...present, ...added]), untracked };
}

function treeChanges(lines: readonly string[]): TreeChanges {
  const changes: TreeChanges = { deleted: [], untracked: [] };
  for (const line of lines) {
    // -t tags each path: R deleted from the working tree, ? untracked.
    if (line.length < 3) continue;
    if (line[0] === "R") changes.deleted.push(line.slice(2));
    else if (line[0] === "?") changes.untracked.push(line.slice(2));
  }
  return changes;
}

/** Runs `git ls-files -z <args> -- <folders>`; undefined when git is missing or fails. */
async function gitLines(
  root: string,
  args: readonly string[],
  folders: readonly string[],
): Promise<string[] | undefined> {
  let stdout: string;
  try {
    ({ stdout } = await createProcessRunner().run({
      argv: ["git", "ls-files", "-z", ...args, "--", ...folders],
      cwd: root,
    }));
  } catch (error) {
    // git missing (127) or failing (not a checkout): the caller walks the folders instead.
    if (error instanceof CommandError) return undefined;
    throw error;
  }
  const lines = stdout.split("\0");
  if (lines.at(-1) === "") lines.pop();
  return lines;
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

const SKIPPED_FOLDERS = new Set([".git", "node_modules", "result", ".direnv"]);
