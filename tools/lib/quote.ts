// Shell quoting for showing commands to people (dry runs, verbose logs, error messages).

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes one argument so that a POSIX shell reads it back unchanged. */
export function shellQuote(arg: string): string {
  if (arg !== "" && SAFE.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** A command line as a person would type it. */
export function formatCommand(argv: readonly string[]): string {
  return argv.map(shellQuote).join(" ");
}
