// What the tools show on a terminal: text from elsewhere (a host's output, facts, a file name)
// never carries control characters to it. An escape sequence in a target's health-check
// output could set the terminal's title, clear the screen or hide text; shown escaped
// (`\x1b`), it is seen for what it is. Used where text leaves the tools: errors, results,
// progress, the runner's log.

/** C0 controls but tab and newline, DEL, and C1 controls (U+0080–U+009F). */
// deno-lint-ignore no-control-regex
const CONTROLS = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/** Every control character but `\n` and `\t` as a visible `\xHH`. */
export function printable(text: string): string {
  return text.replace(CONTROLS, escaped);
}

/** Whether `text` has a control character {@linkcode printable} would escape. */
export function hasControl(text: string): boolean {
  return new RegExp(CONTROLS.source).test(text);
}

/** {@linkcode printable}, with newlines and tabs escaped too: one line. */
export function printableLine(text: string): string {
  return printable(text).replace(/[\n\t]/g, escaped);
}

/**
 * JSON text with every C1 control escaped (`\u009b`): JSON.stringify escapes C0 controls but
 * leaves C1 ones raw, and some terminals read a raw U+009B as the start of a sequence. Raw
 * controls can only be inside JSON strings, where `\u00XX` means the same.
 */
export function jsonForTerminal(json: string): string {
  return json.replace(/[\x7f-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

function escaped(c: string): string {
  return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
}
