// Assertions for tests: node:assert/strict does the comparing (deep equality that tells Dates,
// Maps and Sets apart); only the helpers it lacks are written here.
import nodeAssert from "node:assert/strict";

/** Throws when `condition` is falsy. */
export const assert: (condition: unknown, message?: string) => asserts condition = nodeAssert.ok;

/** Strict deep equality (prototypes, Dates, Maps, Sets, typed arrays); the error shows a diff. */
export function assertEquals<T>(
  actual: unknown,
  expected: T,
  message?: string,
): asserts actual is T {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

/** Asserts that `text` matches `pattern`. */
export const assertMatch: (text: string, pattern: RegExp, message?: string) => void =
  nodeAssert.match;

/** Asserts that `text` contains `part` (node:assert only matches regular expressions). */
export function assertStringIncludes(text: string, part: string, message?: string): void {
  nodeAssert.ok(
    text.includes(part),
    `${message ? `${message}: ` : ""}expected ${JSON.stringify(text)} to include ${
      JSON.stringify(part)
    }`,
  );
}

/**
 * Asserts that `fn` rejects, optionally with an error of `type` whose message includes
 * `includes`, and returns the error (node:assert's `rejects` does not hand it back).
 */
export async function assertRejects<E extends Error = Error>(
  fn: () => Promise<unknown>,
  // deno-lint-ignore no-explicit-any
  type?: new (...args: any[]) => E,
  includes?: string,
): Promise<E> {
  let caught: unknown;
  await nodeAssert.rejects(fn, (error: unknown) => {
    caught = error;
    return true;
  });
  checkError(caught, type, includes);
  return caught as E;
}

/** Asserts that `fn` throws synchronously, optionally with a message including `includes`. */
export function assertThrows(fn: () => unknown, includes?: string): Error {
  let caught: unknown;
  nodeAssert.throws(fn, (error: unknown) => {
    caught = error;
    return true;
  });
  checkError(caught, undefined, includes);
  return caught as Error;
}

function checkError(
  error: unknown,
  // deno-lint-ignore no-explicit-any
  type: (new (...args: any[]) => Error) | undefined,
  includes: string | undefined,
): void {
  if (type) {
    nodeAssert.ok(error instanceof type, `expected ${type.name}, got ${String(error)}`);
  }
  if (includes !== undefined) {
    const message = error instanceof Error ? error.message : String(error);
    nodeAssert.ok(
      message.includes(includes),
      `expected message to include ${JSON.stringify(includes)}, got ${JSON.stringify(message)}`,
    );
  }
}
