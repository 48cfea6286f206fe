// User files: `secrets/users/<user>/<host>.yaml`, the secrets of one person (who is not an
// admin) on one host. Its generated rule names the admins, and while the user is granted, that
// user and that host: nobody else. A folder per user, so no user file can be a host's file.
import { isHostName } from "../host_name.ts";
import { SECRETS_DIR } from "./repo_state.ts";

/** The folder of the user files. */
export const USERS_DIR = `${SECRETS_DIR}/users`;

/** Whose file on which host. */
export interface UserFile {
  user: string;
  host: string;
}

/** The path of a user's file on a host, relative to the repository root. */
export function userFilePath(user: string, host: string): string {
  return `${USERS_DIR}/${user}/${host}.yaml`;
}

/** The anchor of a user's key in `.sops.yaml`. */
export function userAnchor(user: string): string {
  return `user_${user}`;
}

/** The user and host of a user file's path, or undefined for any other path. */
export function userFileOf(path: string): UserFile | undefined {
  const m = path.match(/^secrets\/users\/([^/]+)\/([^/]+)\.yaml$/);
  if (m === null || !isHostName(m[1]!) || !isHostName(m[2]!)) return undefined;
  return { user: m[1]!, host: m[2]! };
}

/** A grant or revoke asked for on a user file in this run. */
export type UserGrant = "grant" | "revoke";

/**
 * Who besides the admins reads a user file: the user while granted (the rule names the user,
 * or this run grants it), and the host while the rule names it too (or this run grants it);
 * only those that still exist.
 */
export function userFileReaders(
  file: UserFile,
  options: {
    /** The aliases of the file's rule now, if it has one. */
    ruleAliases: readonly string[];
    /** The user anchors that remain after this run. */
    userAnchors: readonly string[];
    /** The host anchors that remain after this run. */
    hostAnchors: readonly string[];
    change?: UserGrant;
  },
): string[] {
  const user = userAnchor(file.user);
  const host = `host_${file.host}`;
  const granted = options.change === "grant" ||
    (options.change === undefined && options.ruleAliases.includes(user));
  if (!granted || !options.userAnchors.includes(user)) return [];
  // The host reads it while the rule names it, or when this run grants it: a removed host that
  // comes back (a new key under the old name) gets it only from a new `user grant`.
  const hostNamed = options.ruleAliases.includes(host) || options.change === "grant";
  return [user, ...(hostNamed && options.hostAnchors.includes(host) ? [host] : [])];
}
