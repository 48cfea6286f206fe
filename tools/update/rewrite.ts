// Exact rewrites of package.nix: a value is replaced only where it is a whole Nix string literal
// that appears exactly once in the file; anything else is refused, naming the file and the value.

/** Thrown when a file cannot be rewritten safely; the file is left as it was. */
export class RewriteRefused extends Error {
  override name = "RewriteRefused";
}

/** The offsets of `"value"` as a complete double-quoted literal (not after a backslash). */
export function literalOffsets(text: string, value: string): number[] {
  const needle = `"${value}"`;
  const offsets: number[] = [];
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) {
    if (text[at - 1] !== "\\") offsets.push(at);
  }
  return offsets;
}

/** Whether `value` can be written inside a Nix double-quoted string as it is. */
export function isPlainLiteral(value: string): boolean {
  return value !== "" && !/["\\\n\r]|\$\{/.test(value);
}

/** Checks that `value` appears exactly once as a literal in `text`; throws a RewriteRefused. */
export function requireOnce(text: string, value: string, what: string, file: string): number {
  if (!isPlainLiteral(value)) {
    throw new RewriteRefused(
      `Cannot rewrite ${file}: the old ${what} "${value}" is not a plain string`,
    );
  }
  const offsets = literalOffsets(text, value);
  if (offsets.length !== 1) {
    throw new RewriteRefused(
      `Cannot rewrite ${file}: the old ${what} "${value}" appears ${offsets.length} times as a string literal, expected exactly once`,
    );
  }
  return offsets[0]!;
}

/** One value to replace. */
export interface Replacement {
  /** What it is, for messages: `version`, `rev`, `hash`. */
  what: string;
  from: string;
  to: string;
}

/**
 * Replaces each `from` literal with `to`, all or nothing: every `from` must appear exactly once
 * and every `to` must be a plain literal. Pure.
 */
export function replaceLiterals(
  text: string,
  replacements: readonly Replacement[],
  file: string,
): string {
  const edits: { at: number; length: number; to: string }[] = [];
  for (const r of replacements) {
    if (r.from === r.to) continue;
    if (!isPlainLiteral(r.to)) {
      throw new RewriteRefused(
        `Cannot rewrite ${file}: the new ${r.what} "${r.to}" is not a plain string`,
      );
    }
    const at = requireOnce(text, r.from, r.what, file);
    if (edits.some((e) => e.at === at)) {
      throw new RewriteRefused(
        `Cannot rewrite ${file}: the old ${r.what} "${r.from}" is also another value`,
      );
    }
    edits.push({ at, length: r.from.length + 2, to: `"${r.to}"` });
  }
  edits.sort((a, b) => b.at - a.at);
  let out = text;
  for (const e of edits) out = out.slice(0, e.at) + e.to + out.slice(e.at + e.length);
  return out;
}
