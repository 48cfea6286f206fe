// Small assertions for tests (JSR's @std/assert cannot be reached from the build machines).

/** Throws when `condition` is falsy. */
export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new Error(message);
}

/** Deep equality through JSON-like structure; the error shows both values. */
export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  if (!deepEqual(actual, expected)) {
    throw new Error(
      `${message ? `${message}: ` : ""}values differ\n  actual:   ${show(actual)}\n  expected: ${
        show(expected)
      }`,
    );
  }
}

/** Asserts that `text` contains `part`. */
export function assertStringIncludes(text: string, part: string, message?: string): void {
  if (!text.includes(part)) {
    throw new Error(
      `${message ? `${message}: ` : ""}expected ${show(text)} to include ${show(part)}`,
    );
  }
}

/** Asserts that `fn` rejects, optionally with an error of `type` whose message includes `includes`. */
export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  type?: new (...args: any[]) => E,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    if (type && !(error instanceof type)) {
      throw new Error(`expected ${type.name}, got ${show(error)}`);
    }
    if (includes && !(error instanceof Error && error.message.includes(includes))) {
      throw new Error(
        `expected message to include ${show(includes)}, got ${show((error as Error).message)}`,
      );
    }
    return error as E;
  }
  throw new Error("expected the promise to reject");
}

/** Asserts that `fn` throws synchronously. */
export function assertThrows(fn: () => unknown, includes?: string): Error {
  try {
    fn();
  } catch (error) {
    if (includes && !(error instanceof Error && error.message.includes(includes))) {
      throw new Error(`expected message to include ${show(includes)}, got ${show(error)}`);
    }
    return error as Error;
  }
  throw new Error("expected a throw");
}

function show(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    return a.length === b.length && a.every((x, i) => x === b[i]);
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}
