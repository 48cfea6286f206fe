// GET JSON from an upstream API with a time bound; every failure becomes an UpstreamError.

/** Why an upstream did not answer with what we asked for. */
export type UpstreamFailure =
  | "not-found"
  | "server-error"
  | "rate-limited"
  | "timeout"
  | "network"
  | "bad-answer";

/** An upstream failed; the message is one line that says what to do where it can. */
export class UpstreamError extends Error {
  override name = "UpstreamError";
  constructor(readonly failure: UpstreamFailure, message: string) {
    super(message);
  }
}

/** Options for {@linkcode getJson}. */
export interface GetJsonOptions {
  headers?: Record<string, string>;
  timeoutMs: number;
  /** Names the upstream in messages: `GitHub`, `npm`. */
  upstream: string;
  /** Turns a refusal into a rate-limit error, if the upstream signals one. */
  rateLimit?: (response: Response) => string | undefined;
}

/** GETs `url` and parses the answer as JSON. */
export async function getJson(url: string, options: GetJsonOptions): Promise<unknown> {
  const signal = AbortSignal.timeout(options.timeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { headers: options.headers ?? {}, signal });
  } catch (error) {
    throw transportError(error, url, options);
  }
  try {
    if (!response.ok) {
      const limited = options.rateLimit?.(response);
      if (limited !== undefined) throw new UpstreamError("rate-limited", limited);
      if (response.status === 404) {
        throw new UpstreamError(
          "not-found",
          `${options.upstream} answered 404 Not Found for ${url}`,
        );
      }
      throw new UpstreamError(
        "server-error",
        `${options.upstream} answered ${response.status} ${response.statusText} for ${url}`,
      );
    }
    const text = await response.text();
    try {
      return JSON.parse(text);
    } catch {
      throw new UpstreamError("bad-answer", `${options.upstream} answered non-JSON for ${url}`);
    }
  } catch (error) {
    if (error instanceof UpstreamError) throw error;
    throw transportError(error, url, options);
  } finally {
    await response.body?.cancel().catch(() => {});
  }
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
  const cause = error instanceof Error ? error.message : String(error);
  return new UpstreamError("network", `Cannot reach ${options.upstream} at ${url}: ${cause}`);
}
