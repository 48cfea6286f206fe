// Checks of command-line values shared by every tool, free of npm imports (update parses its
// flags with node:util for a fast start, the others with commander through cli.ts).
import { UsageError } from "./errors.ts";

/**
 * `value` as a whole number ≥ 1, or a {@linkcode UsageError} naming `flag`: digits only (no
 * sign, no exponent, no fraction), and within the safe integers (past them the number is no
 * longer the one typed, or is Infinity).
 */
export function positiveInt(value: string, flag: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`Invalid ${flag} "${value}": expected a whole number ≥ 1`);
  }
  return Number(value);
}

/** {@linkcode positiveInt} as a commander option parser of `flag`. */
export function positiveIntOf(flag: string): (value: string) => number {
  return (value) => positiveInt(value, flag);
}
