// A unified diff of two texts, for showing people what a tool is about to change.

type Op = { kind: " " | "-" | "+"; line: string };

/** The unified diff (3 lines of context) from `before` to `after`, or "" when they are equal. */
export function unifiedDiff(path: string, before: string, after: string, context = 3): string {
  if (before === after) return "";
  const a = splitLines(before);
  const b = splitLines(after);
  const ops = diffLines(a, b);
  const hunks: string[] = [];
  let i = 0;
  while (i < ops.length) {
    if (ops[i]!.kind === " ") {
      i++;
      continue;
    }
    // Grow a hunk from this change until a run of unchanged lines longer than 2 × context.
    let start = Math.max(0, i - context);
    let end = i;
    while (end < ops.length) {
      if (ops[end]!.kind !== " ") {
        end++;
        continue;
      }
      let run = 0;
      while (end + run < ops.length && ops[end + run]!.kind === " ") run++;
      if (end + run >= ops.length || run > 2 * context) {
        end = Math.min(ops.length, end + context);
        break;
      }
      end += run;
    }
    hunks.push(renderHunk(ops, start, end));
    i = end;
    start = end;
  }
  const header = [`--- a/${path}`, `+++ b/${path}`];
  return [...header, ...hunks].join("\n") + "\n";
}

function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

function renderHunk(ops: readonly Op[], start: number, end: number): string {
  let oldStart = 1;
  let newStart = 1;
  for (let k = 0; k < start; k++) {
    if (ops[k]!.kind !== "+") oldStart++;
    if (ops[k]!.kind !== "-") newStart++;
  }
  const slice = ops.slice(start, end);
  const oldCount = slice.filter((op) => op.kind !== "+").length;
  const newCount = slice.filter((op) => op.kind !== "-").length;
  const range = (from: number, count: number) =>
    `${count === 0 ? from - 1 : from}${count === 1 ? "" : `,${count}`}`;
  const body = slice.map((op) => `${op.kind}${op.line}`);
  return [`@@ -${range(oldStart, oldCount)} +${range(newStart, newCount)} @@`, ...body].join("\n");
}

/** Line operations from a longest common subsequence (index files are small). */
function diffLines(a: readonly string[], b: readonly string[]): Op[] {
  const n = a.length;
  const m = b.length;
  const width = m + 1;
  const lcs = new Uint32Array((n + 1) * width);
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i * width + j] = a[i] === b[j]
        ? lcs[(i + 1) * width + j + 1]! + 1
        : Math.max(lcs[(i + 1) * width + j]!, lcs[i * width + j + 1]!);
    }
  }
  const ops: Op[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      ops.push({ kind: " ", line: a[i++]! });
      j++;
    } else if (i < n && (j === m || lcs[(i + 1) * width + j]! >= lcs[i * width + j + 1]!)) {
      ops.push({ kind: "-", line: a[i++]! });
    } else {
      ops.push({ kind: "+", line: b[j++]! });
    }
  }
  return ops;
}
