// Reading versions out of tags: the shape is learnt from the current version and the tag the
// package's src names (`cargo-nextest-0.9.1`, `curl-8_5_0`, `OpenSSL_1_1_1w`), or given by
// `updateInfo.versionRegex` (as nix-update's --version-regex: group 1, else the whole match).
import { parseVersion } from "./version.ts";

/** How a package's tags spell its version: `<prefix><version, dots as separator><suffix>`. */
export interface TagShape {
  prefix: string;
  suffix: string;
  /** What stands for `.` between the version's parts in the tag: `.`, `_` or `-`. */
  separator: "." | "_" | "-";
}

/** A function from a tag to the version it names, or undefined when it names none. */
export type TagReader = (tag: string) => string | undefined;

/**
 * The shape of `tag` for `version` (`tag = "cargo-nextest-${version}"` gives the prefix
 * `cargo-nextest-`), or undefined when the tag does not hold the version.
 */
export function learnTagShape(version: string, tag: string): TagShape | undefined {
  const separators = version.includes(".") ? [".", "_", "-"] as const : ["."] as const;
  for (const separator of separators) {
    const spelled = version.replaceAll(".", separator);
    const at = tag.lastIndexOf(spelled);
    if (at < 0) continue;
    const prefix = tag.slice(0, at);
    const suffix = tag.slice(at + spelled.length);
    // The version must be whole: `1.2` is not the version of the tag `v1.2.3` or `11.2`.
    if (/[0-9]$/.test(prefix) || /^(?:[0-9A-Za-z]|[._-][0-9])/.test(suffix)) continue;
    return { prefix, suffix, separator };
  }
  return undefined;
}

/** The version a tag of `shape` names, if it is one. */
export function readWithShape(shape: TagShape, tag: string): string | undefined {
  if (!tag.startsWith(shape.prefix) || !tag.endsWith(shape.suffix)) return undefined;
  if (tag.length < shape.prefix.length + shape.suffix.length) return undefined;
  let middle = tag.slice(shape.prefix.length, tag.length - shape.suffix.length);
  if (shape.separator !== ".") {
    if (middle.includes(".")) return undefined;
    middle = middle.replaceAll(shape.separator, ".");
  }
  if (shape.prefix === "" || !/[vV]$/.test(shape.prefix)) {
    middle = middle.replace(/^[vV](?=\d)/, "");
  }
  return parseVersion(middle) === undefined ? undefined : middle;
}

/** `v1.2.3` and `1.2.3` name 1.2.3: the reader when nothing else is known. */
export function readPlain(tag: string): string | undefined {
  const version = tag.replace(/^[vV](?=\d)/, "");
  return parseVersion(version) === undefined ? undefined : version;
}

/**
 * Whether V8's linear-time regex engine is on (the update task runs with
 * `--v8-flags=--enable-experimental-regexp-engine`): then the `l` flag is accepted.
 */
const LINEAR = "l";

function linearEngine(): boolean {
  try {
    new RegExp("", LINEAR);
    return true;
  } catch {
    return false;
  }
}

/**
 * Compiles `updateInfo.versionRegex`; throws a one-line error when it is not a regex. Tags come
 * from the upstream, so the regex runs in linear time (V8's `l` flag) where the engine is on: a
 * pattern like `(a+)+$` cannot make a tag hang the run, and a pattern that needs backtracking
 * (a backreference) is refused.
 */
export function regexReader(source: string): TagReader {
  let regex: RegExp;
  try {
    regex = new RegExp(source);
  } catch (error) {
    throw new Error(`invalid updateInfo.versionRegex "${source}": ${(error as Error).message}`);
  }
  if (linearEngine()) {
    try {
      regex = new RegExp(source, LINEAR);
    } catch {
      throw new Error(
        `invalid updateInfo.versionRegex "${source}": it cannot run in linear time (backreferences are not supported); write it without them`,
      );
    }
  }
  return (tag) => {
    const match = regex.exec(tag);
    if (match === null) return undefined;
    const version = match[1] ?? match[0];
    return parseVersion(version) === undefined ? undefined : version;
  };
}

/** How a package's tags are read, and how that was decided (for messages). */
export interface TagReading {
  read: TagReader;
  /** `the versionRegex "…"`, `the shape of the current tag "v1.2.0"`, `v<version>`. */
  how: string;
}

/**
 * The reader for a package: `versionRegex` when given, else the shape of its current tag when
 * the tag holds the version, else `<version>` or `v<version>`.
 */
export function tagReading(
  version: string,
  currentTag: string | undefined,
  versionRegex: string | undefined,
): TagReading {
  if (versionRegex !== undefined) {
    const read = regexReader(versionRegex);
    // A group that holds the tag's `v` ("(.*)" on "v1.2.3"): the version is spelled like the
    // current one, without the `v` (which never orders it differently).
    const keepV = /^[vV]\d/.test(version);
    return {
      read: (tag) => {
        const found = read(tag);
        return found === undefined || keepV ? found : found.replace(/^[vV](?=\d)/, "");
      },
      how: `updateInfo.versionRegex "${versionRegex}"`,
    };
  }
  const tag = currentTag?.replace(/^refs\/tags\//, "");
  const shape = tag === undefined ? undefined : learnTagShape(version, tag);
  if (shape !== undefined && tag !== undefined) {
    return {
      read: (t) => readWithShape(shape, t),
      how: `the shape of the current tag "${tag}"`,
    };
  }
  return { read: readPlain, how: "the tag shapes <version> and v<version>" };
}
