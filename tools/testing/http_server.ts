// A small HTTP server on 127.0.0.1 (random port) that stands in for upstream APIs in tests:
// a routes table answers with JSON or bytes, and every request is recorded. Imported by tests only.

/** A canned answer: JSON (`json`), bytes or text (`body`), or a function of the request. */
export type Route =
  | {
    status?: number;
    headers?: Record<string, string>;
    json?: unknown;
    body?: string | Uint8Array;
  }
  | ((request: Request, url: URL) => Response | Promise<Response>);

/**
 * Routes by key: `"GET /repos/o/r/releases/latest"` (method and path) or `"/pypi/x/json"` (any
 * method). A key with `?` matches path and query exactly, one without matches the path alone.
 */
export type Routes = Record<string, Route>;

/** A request the server received. */
export interface RecordedRequest {
  method: string;
  /** Path and query: `/repos/o/r/tags?per_page=100`. */
  path: string;
  headers: Record<string, string>;
  body: string;
}

/** A running server; dispose it (or use `await using`) to stop it. */
export interface TestHttpServer extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`, without a trailing slash. */
  readonly url: string;
  readonly port: number;
  /** Every request so far, oldest first. */
  readonly requests: readonly RecordedRequest[];
  /** Adds or replaces a route. */
  route(key: string, route: Route): void;
  /** Stops the server; awaits requests in flight. */
  close(): Promise<void>;
}

function respond(route: Route, request: Request, url: URL): Response | Promise<Response> {
  if (typeof route === "function") return route(request, url);
  const headers = new Headers(route.headers);
  let body: BodyInit | null = null;
  if (route.json !== undefined) {
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
    body = JSON.stringify(route.json);
  } else if (typeof route.body === "string") {
    if (!headers.has("content-type")) headers.set("content-type", "text/plain; charset=utf-8");
    body = route.body;
  } else if (route.body !== undefined) {
    if (!headers.has("content-type")) headers.set("content-type", "application/octet-stream");
    body = new Uint8Array(route.body);
  }
  return new Response(body, { status: route.status ?? 200, headers });
}

/** The route for a request: method and path (and query), then path (and query) alone. */
export function matchRoute(routes: Routes, method: string, url: URL): Route | undefined {
  const withQuery = `${url.pathname}${url.search}`;
  const keys = url.search === ""
    ? [`${method} ${url.pathname}`, url.pathname]
    : [`${method} ${withQuery}`, withQuery, `${method} ${url.pathname}`, url.pathname];
  for (const key of keys) {
    const route = routes[key];
    if (route !== undefined) return route;
  }
  return undefined;
}

/** Starts a server on 127.0.0.1 with a random port that answers from `routes`, 404 otherwise. */
export function startHttpServer(routes: Routes = {}): TestHttpServer {
  const table: Routes = { ...routes };
  const requests: RecordedRequest[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async (request) => {
      const url = new URL(request.url);
      const bytes = new Uint8Array(await request.arrayBuffer());
      requests.push({
        method: request.method,
        path: `${url.pathname}${url.search}`,
        headers: Object.fromEntries(request.headers),
        body: new TextDecoder().decode(bytes),
      });
      const route = matchRoute(table, request.method, url);
      if (route === undefined) {
        return Response.json({ message: "Not Found", path: url.pathname }, { status: 404 });
      }
      // The body was read for the record: hand route functions a fresh request.
      const hasBody = request.method !== "GET" && request.method !== "HEAD";
      const fresh = new Request(url, {
        method: request.method,
        headers: request.headers,
        body: hasBody ? bytes : null,
      });
      return await respond(route, fresh, url);
    },
  );
  const port = (server.addr as Deno.NetAddr).port;
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= server.shutdown();
    return closed;
  };
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    route(key, route) {
      table[key] = route;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
