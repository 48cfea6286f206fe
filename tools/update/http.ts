// GET JSON from an upstream API with a time bound, a size cap and redirects kept within the
// upstream; every failure becomes an UpstreamError.

/** Why an upstream did not answer with what we asked for. */
export type UpstreamFailure =
  | "not-found"
  | "server-error"
  | "rate-limited"
  | "timeout"
  | "network"
  | "bad-answer"
  | "too-large"
  | "redirect";

/** An upstream failed; the message is one line that says what to do where it can. */
export class UpstreamError extends Error {
  override name = "UpstreamError";
  constructor(readonly failure: UpstreamFailure, message: string) {
    super(message);
  }
}

/** The most bytes of one answer that are read (a GitHub page of 100 releases is ~1 MiB). */
export const MAX_ANSWER_BYTES = 32 * 1024 * 1024;
/** Redirects followed per request. */
export const MAX_REDIRECTS = 5;

/** Options for {@linkcode getJson}. */
export interface GetJsonOptions {
  headers?: Record<string, string>;
  timeoutMs: number;
  /** Names the upstream in messages: `GitHub`, `npm`. */
  upstream: string;
  /** Turns a refusal into a rate-limit error, if the upstream signals one. */
  rateLimit?: (response: Response) => string | undefined;
  /** Origins besides the URL's own that a redirect may lead to (none by default). */
  redirectOrigins?: readonly string[];
  /** Headers sent only to the URL's own origin (a token): never after a cross-origin hop. */
  privateHeaders?: Record<string, string>;
  maxBytes?: number;
}

/** GETs `url` and parses the answer as JSON. */
export async function getJson(url: string, options: GetJsonOptions): Promise<unknown> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  const origin = new URL(url).origin;
  const allowed = new Set([origin, ...(options.redirectOrigins ?? [])]);
  let response: Response | undefined;
  let at = url;
  try {
    for (let hop = 0;; hop++) {
      const sameOrigin = new URL(at).origin === origin;
      try {
        response = await fetch(at, {
          headers: {
            ...(options.headers ?? {}),
            ...(sameOrigin ? options.privateHeaders ?? {} : {}),
          },
          signal,
          redirect: "manual",
        });
      } catch (error) {
        throw transportError(error, at, options);
      }
      if (response.status < 300 || response.status > 399) break;
      const location = response.headers.get("location");
      await response.body?.cancel().catch(() => {});
      if (location === null) {
        throw new UpstreamError(
          "bad-answer",
          `${options.upstream} answered ${response.status} without a Location for ${at}`,
        );
      }
      const next = new URL(location, at);
      if (!allowed.has(next.origin)) {
        throw new UpstreamError(
          "redirect",
          `${options.upstream} redirected ${at} to another site (${next.origin}); not followed: only ${
            [...allowed].join(", ")
          } are trusted for this upstream`,
        );
      }
      if (hop + 1 > MAX_REDIRECTS) {
        throw new UpstreamError(
          "redirect",
          `${options.upstream} redirected more than ${MAX_REDIRECTS} times for ${url}`,
        );
      }
      at = next.href;
    }
    if (!response.ok) {
      const limited = options.rateLimit?.(response);
      if (limited !== undefined) throw new UpstreamError("rate-limited", limited);
      if (response.status === 404) {
        throw new UpstreamError(
          "not-found",
          `${options.upstream} answered 404 Not Found for ${at}`,
        );
      }
      throw new UpstreamError(
        "server-error",
        `${options.upstream} answered ${response.status} ${response.statusText} for ${at}`,
      );
    }
    const text = await readCapped(response, options.maxBytes ?? MAX_ANSWER_BYTES, at, options);
    try {
      return JSON.parse(text);
    } catch {
      throw new UpstreamError("bad-answer", `${options.upstream} answered non-JSON for ${at}`);
    }
  } catch (error) {
    if (error instanceof UpstreamError) throw error;
    throw transportError(error, at, options);
  } finally {
    await response?.body?.cancel().catch(() => {});
  }
}

async function readCapped(
  response: Response,
  maxBytes: number,
  url: string,
  options: GetJsonOptions,
): Promise<string> {
  const tooLarge = () =>
    new UpstreamError(
      "too-large",
      `${options.upstream}'s answer for ${url} is larger than ${
        Math.round(maxBytes / 1024 / 1024)
      } MiB; not read`,
    );
  const declared = Number(response.headers.get("content-length"));
  if (Number.isFinite(declared) && declared > maxBytes) throw tooLarge();
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (response.body === null) return "";
  const reader = response.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) throw tooLarge();
      chunks.push(value);
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  const all = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(all);
}

function transportError(error: unknown, url: string, options: GetJsonOptions): UpstreamError {
  if (
    error instanceof DOMException && (error.name === "TimeoutError" || error.name === "AbortError")
  ) {
    const seconds = Math.round(options.timeoutMs / 100) / 10;
    return new UpstreamError(
      "timeout",
      `${options.upstream} did not answer within ${seconds} s: ${url}`,
    );
  }
  let cause = error instanceof Error ? error.message : String(error);
  // fetch says only "fetch failed"; its cause ends with what went wrong ("…: client error
  // (SendRequest): message head is too large", "…: Connection refused (os error 111)").
  const inner = error instanceof Error && error.cause instanceof Error
    ? error.cause.message.split("\n")[0]!.split(": ").pop()?.trim()
    : undefined;
  if (inner && !cause.includes(inner)) cause = `${cause}: ${inner}`;
  return new UpstreamError("network", `Cannot reach ${options.upstream} at ${url}: ${cause}`);
}
