// sops matches `path_regex` with Go's RE2; JavaScript reads some of its syntax differently
// (`\z` is a literal "z" there) or not at all (`(?P<name>…)`, `(?i)`, `\pL`). This translates
// RE2 into an equivalent JavaScript RegExp, or throws naming the construct it cannot carry over,
// so a rule is never silently taken to match nothing.

/** A construct that cannot be carried over. */
export class Re2Error extends Error {
  override name = "Re2Error";
}

const POSIX_CLASSES: Record<string, string> = {
  alnum: "0-9A-Za-z",
  alpha: "A-Za-z",
  ascii: "\\x00-\\x7F",
  blank: "\\t ",
  cntrl: "\\x00-\\x1F\\x7F",
  digit: "0-9",
  graph: "!-~",
  lower: "a-z",
  print: " -~",
  punct: "!-\\/:-@\\[-`{-~",
  space: "\\t\\n\\v\\f\\r ",
  upper: "A-Z",
  word: "0-9A-Za-z_",
  xdigit: "0-9A-Fa-f",
};

function escapeLiteral(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, (c) => `\\${c}`);
}

/** Translates an RE2 pattern into a JavaScript RegExp that matches the same strings. */
export function re2ToRegExp(pattern: string): RegExp {
  let flags = "";
  let unicode = false;
  let out = "";
  let i = 0;
  let inClass = false;
  const take = (n: number) => {
    const s = pattern.slice(i, i + n);
    i += n;
    return s;
  };
  while (i < pattern.length) {
    const c = pattern[i]!;
    if (c === "\\") {
      const next = pattern[i + 1];
      if (next === undefined) throw new Re2Error("a trailing backslash");
      if (next === "z" && !inClass) {
        take(2);
        out += "$(?![\\s\\S])";
        continue;
      }
      if (next === "A" && !inClass) {
        take(2);
        out += "(?<![\\s\\S])";
        continue;
      }
      if (next === "p" || next === "P") {
        take(2);
        let name: string;
        if (pattern[i] === "{") {
          const end = pattern.indexOf("}", i);
          if (end < 0) throw new Re2Error(`an unterminated \\${next}{`);
          name = pattern.slice(i + 1, end);
          i = end + 1;
        } else {
          name = take(1);
        }
        const negated = name.startsWith("^") ? !(next === "P") : next === "P";
        name = name.replace(/^\^/, "");
        const property = /^[A-Z][a-z]?$/.test(name) ? name : `Script=${name}`;
        out += `\\${negated ? "P" : "p"}{${property}}`;
        unicode = true;
        continue;
      }
      if (next === "Q") {
        take(2);
        const end = pattern.indexOf("\\E", i);
        const literal = end < 0 ? pattern.slice(i) : pattern.slice(i, end);
        i = end < 0 ? pattern.length : end + 2;
        out += escapeLiteral(literal);
        continue;
      }
      if (/[1-9]/.test(next)) {
        throw new Re2Error(`a backreference (\\${next}), which RE2 does not have`);
      }
      if (next === "C") throw new Re2Error("\\C (any byte)");
      if (next === "x" && pattern[i + 2] === "{") {
        const end = pattern.indexOf("}", i);
        if (end < 0) throw new Re2Error("an unterminated \\x{");
        out += `\\u{${pattern.slice(i + 3, end)}}`;
        unicode = true;
        i = end + 1;
        continue;
      }
      out += take(2);
      continue;
    }
    if (inClass) {
      if (c === "[" && pattern[i + 1] === ":") {
        const end = pattern.indexOf(":]", i);
        const name = end < 0 ? "" : pattern.slice(i + 2, end);
        const negated = name.startsWith("^");
        const body = POSIX_CLASSES[name.replace(/^\^/, "")];
        if (body === undefined) throw new Re2Error(`the class [:${name}:]`);
        if (negated) throw new Re2Error(`the negated class [:${name}:]`);
        out += body;
        i = end + 2;
        continue;
      }
      if (c === "]") inClass = false;
      out += take(1);
      continue;
    }
    if (c === "[") {
      inClass = true;
      out += take(1);
      if (pattern[i] === "^") out += take(1);
      if (pattern[i] === "]") out += `\\${take(1)}`;
      continue;
    }
    if (c === "(" && pattern[i + 1] === "?") {
      const rest = pattern.slice(i + 2);
      const named = rest.match(/^P?<([A-Za-z_][A-Za-z0-9_]*)>/);
      if (named) {
        i += 2 + named[0].length;
        out += `(?<${named[1]}>`;
        continue;
      }
      if (rest.startsWith(":")) {
        out += take(3);
        continue;
      }
      const setFlags = rest.match(/^([imsU-]+)\)/);
      if (setFlags && (out === "" || out === "^")) {
        const f = setFlags[1]!;
        if (f.includes("-") || f.includes("U")) throw new Re2Error(`the flags (?${f})`);
        for (const flag of f) if (!flags.includes(flag)) flags += flag;
        i += 2 + setFlags[0].length;
        continue;
      }
      throw new Re2Error(`the group (?${rest.slice(0, rest.search(/[):]/) + 1 || 3)}`);
    }
    out += take(1);
  }
  if (unicode) flags += "u";
  try {
    return new RegExp(out, flags);
  } catch (error) {
    throw new Re2Error(`a pattern JavaScript cannot read (${(error as Error).message})`);
  }
}
