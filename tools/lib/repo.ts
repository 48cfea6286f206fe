// Finding the repository root and naming paths inside it.
import { UsageError } from "./errors.ts";
import { pathExists as exists } from "./fs.ts";

/** Marker files that make a folder the fleet repository's root. */
export const ROOT_MARKERS = ["flake.nix", "configurations"] as const;

const ROOT_RULE = "holds flake.nix and configurations/";

/**
 * The repository root: the nearest folder at or above `start` — or, when given, at or above
 * `explicit` (relative to where the user stood) — that holds flake.nix and configurations/.
 * Pass `Deno.cwd()` as `start`: `deno task` runs in the folder of deno.json, the root itself.
 * The walk stops at the first folder this process may not read (a task may read only its own
 * folder), with the same message as at `/`: never Deno's permission error.
 */
export async function findRepoRoot(start: string, explicit?: string): Promise<string> {
  const from = explicit === undefined ? start : userPath(explicit);
  let dir: string;
  try {
    dir = await Deno.realPath(from);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      throw new UsageError(
        `Cannot find the repository: "${from}" does not exist; ${advice(explicit)}`,
      );
    }
    if (error instanceof Deno.errors.NotCapable) {
      throw new UsageError(
        `Cannot find the repository: this task may not read "${from}" (deno.json allows only ` +
          `its own folder); ${advice(explicit)}`,
      );
    }
    throw error;
  }
  // A file named by --repo: "not a folder" here, not ENOTDIR from a marker's stat below.
  if (!(await Deno.stat(dir)).isDirectory) {
    throw new UsageError(
      `Cannot find the repository: "${from}" is not a folder; ${advice(explicit)}`,
    );
  }
  while (true) {
    const marked = await holdsMarkers(dir);
    if (marked === true) return dir;
    const parent = dir.replace(/\/[^/]+$/, "") || "/";
    if (marked === "unreadable" || parent === dir) {
      throw new UsageError(
        `Cannot find the repository: no folder at or above "${from}" ${ROOT_RULE}; ` +
          advice(explicit),
      );
    }
    dir = parent;
  }
}

function advice(explicit: string | undefined): string {
  return explicit === undefined
    ? "run inside it or pass --repo"
    : "run inside it or pass --repo with the folder that " + ROOT_RULE;
}

/** Whether `dir` is a root; "unreadable" when this process may not look (a Deno permission). */
async function holdsMarkers(dir: string): Promise<boolean | "unreadable"> {
  try {
    const found = await Promise.all(ROOT_MARKERS.map((m) => exists(`${dir}/${m}`)));
    return found.every(Boolean);
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) return "unreadable";
    throw error;
  }
}

/**
 * The folder the user ran the command from: `deno task` runs in the folder of deno.json and
 * says where it was started in INIT_CWD. Only for paths the user typed; a nested task inherits
 * an outer INIT_CWD, so the repository root is never found from it.
 */
export function invocationDir(): string {
  return Deno.env.get("INIT_CWD") ?? Deno.cwd();
}

/** A path the user typed, made absolute from the folder they ran the command in. */
export function userPath(path: string): string {
  return path.startsWith("/") ? path : `${invocationDir()}/${path}`;
}
