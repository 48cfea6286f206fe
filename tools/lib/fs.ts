// File helpers: atomic writes that skip unchanged content.

/** Options for {@linkcode writeFileAtomic}. */
export interface WriteOptions {
  /** File mode for a new file; an existing file keeps its mode. */
  mode?: number;
  /**
   * Where the temporary file goes (same file system as `path`). By default beside `path`; a
   * folder outside it when something may copy `path`'s folder meanwhile (nix copying a `path:`
   * flake would trip over a temporary file that vanishes under it).
   */
  tempDir?: string;
}

/** True when `path` exists (following links); other errors than "not found" are thrown. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Reads a text file, or returns undefined when it does not exist. */
export async function readTextIfExists(path: string): Promise<string | undefined> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/** Reads a text file, or returns undefined when it does not exist; for a cold start's few files. */
export function readTextIfExistsSync(path: string): string | undefined {
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw error;
  }
}

/**
 * Writes `content` to `path` through a temporary file and a rename, so a reader never sees a
 * half-written file. Returns false, and writes nothing, when the content is already there.
 */
export async function writeFileAtomic(
  path: string,
  content: string | Uint8Array,
  options: WriteOptions = {},
): Promise<boolean> {
  const bytes = typeof content === "string" ? new TextEncoder().encode(content) : content;
  let mode = options.mode;
  try {
    const existing = await Deno.readFile(path);
    if (sameBytes(existing, bytes)) return false;
    mode = (await Deno.stat(path)).mode ?? mode;
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const slash = path.lastIndexOf("/");
  const dir = slash >= 0 ? path.slice(0, slash) || "/" : ".";
  const base = slash >= 0 ? path.slice(slash + 1) : path;
  const temp = `${options.tempDir ?? dir}/.${base}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    await Deno.writeFile(temp, bytes, mode === undefined ? {} : { mode: mode & 0o7777 });
    if (mode !== undefined) await Deno.chmod(temp, mode & 0o7777);
    await Deno.rename(temp, path);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
