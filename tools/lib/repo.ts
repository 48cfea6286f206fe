// Finding the repository root and naming paths inside it.
import { UsageError } from "./errors.ts";
import { pathExists as exists } from "./fs.ts";

/** Marker files that make a folder the fleet repository's root. */
export const ROOT_MARKERS = ["flake.nix", "configurations"] as const;

/**
 * The repository root: `explicit` when given (relative to where the user stood), else the
 * nearest folder at or above `start` that holds flake.nix and configurations/. Pass
 * `Deno.cwd()` as `start`: `deno task` runs in the folder of deno.json, the root itself.
 */
export async function findRepoRoot(start: string, explicit?: string): Promise<string> {
  if (explicit !== undefined) {
    const absolute = userPath(explicit);
    const root = await Deno.realPath(absolute).catch(() => {
      throw new UsageError(`Cannot use repository "${explicit}": no such folder`);
    });
    return root;
  }
  let dir = await Deno.realPath(start);
  while (true) {
    const found = await Promise.all(ROOT_MARKERS.map((m) => exists(`${dir}/${m}`)));
    if (found.every(Boolean)) return dir;
    const parent = dir.replace(/\/[^/]+$/, "") || "/";
    if (parent === dir) {
      throw new UsageError(
        `Cannot find the repository: no folder above "${start}" holds flake.nix and configurations/; run inside it or pass --repo`,
      );
    }
    dir = parent;
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
