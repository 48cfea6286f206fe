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

/**
 * Why `address` is not a host ssh can reach, or undefined: a DNS name (RFC 1123 labels, not
 * all digits at the end), a dotted IPv4 address (four numbers 0–255, no leading zeros), or an
 * IPv6 address (RFC 4291 text form, one `::` at most, an optional `%zone`). Nothing that starts
 * with `-` (ssh would read an option), no user@, no port, and not the unspecified `::` or
 * `0.0.0.0`.
 */
export function hostAddressProblem(address: string): string | undefined {
  if (address === "") return "empty";
  if (address.startsWith("-")) return "starts with '-' (ssh would read it as an option)";
  if (address.includes(":")) return ipv6Problem(address);
  if (/^[0-9.]+$/.test(address) || /\.[0-9]+$/.test(address)) return ipv4Problem(address);
  return dnsNameProblem(address);
}

function ipv4Problem(address: string): string | undefined {
  const parts = address.split(".");
  if (parts.length !== 4) return `not an IPv4 address: ${parts.length} numbers, not 4`;
  for (const part of parts) {
    if (!/^[0-9]{1,3}$/.test(part)) return `not an IPv4 address: "${part}" is not a number 0-255`;
    if (part.length > 1 && part.startsWith("0")) {
      return `not an IPv4 address: "${part}" has a leading zero (read as octal by some tools)`;
    }
    if (Number(part) > 255) return `not an IPv4 address: ${part} is above 255`;
  }
  if (address === "0.0.0.0") return "the unspecified address 0.0.0.0 names no host";
  return undefined;
}

function ipv6Problem(address: string): string | undefined {
  const [body = "", zone, ...more] = address.split("%");
  if (more.length > 0 || (zone !== undefined && !/^[A-Za-z0-9_.-]+$/.test(zone))) {
    return "not an IPv6 address: a bad %zone";
  }
  const halves = body.split("::");
  if (halves.length > 2) return "not an IPv6 address: '::' more than once";
  const groupsOf = (half: string) => half === "" ? [] : half.split(":");
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  const all = [...head, ...tail];
  // An IPv4 address may end it (::ffff:10.0.0.1): it counts as two groups.
  const last = all.at(-1);
  let count = all.length;
  if (last !== undefined && last.includes(".")) {
    if (ipv4Problem(last) !== undefined) return `not an IPv6 address: "${last}" ends it`;
    all.pop();
    count += 1;
  }
  for (const group of all) {
    if (!/^[0-9A-Fa-f]{1,4}$/.test(group)) {
      return `not an IPv6 address: "${group}" is not 1 to 4 hex digits`;
    }
  }
  if (halves.length === 2 ? count > 7 : count !== 8) {
    return `not an IPv6 address: ${count} groups${halves.length === 2 ? " and '::'" : ", not 8"}`;
  }
  if (/^[0:]+$/.test(body)) {
    return "the unspecified address :: names no host";
  }
  return undefined;
}

function dnsNameProblem(name: string): string | undefined {
  const bare = name.endsWith(".") ? name.slice(0, -1) : name;
  if (bare.length > 253) return "not a host name: longer than 253 characters";
  for (const label of bare.split(".")) {
    if (!/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(label)) {
      return `not a host name: "${label}" is not a DNS label (letters, digits, inner '-', at most 63)`;
    }
  }
  return undefined;
}
