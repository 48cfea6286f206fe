// Turning zod's errors into one line that names where the value was wrong.
import type { z } from "zod";

/** `hosts.web1.port: expected number, received string` — first issue, plus a count. */
export function describeZodError(error: z.ZodError): string {
  const [first, ...rest] = error.issues;
  if (first === undefined) return "invalid value";
  const where = first.path.length > 0 ? first.path.map(String).join(".") : "value";
  const more = rest.length > 0 ? ` (and ${rest.length} more)` : "";
  return `${where}: ${first.message}${more}`;
}

/** Validates `value` or throws an Error naming `what` and the field. */
export function parseOrThrow<T extends z.ZodType>(
  schema: T,
  value: unknown,
  what: string,
): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`Invalid ${what}: ${describeZodError(parsed.error)}`);
  return parsed.data;
}
