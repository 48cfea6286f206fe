import { assert, assertEquals } from "./assert.ts";
import { matchRoute, startHttpServer } from "./http_server.ts";

Deno.test("startHttpServer() answers JSON and bytes on 127.0.0.1 and records requests", async () => {
  const tarball = new Uint8Array([0x1f, 0x8b, 0, 1, 2, 255]);
  await using server = startHttpServer({
    "GET /repos/o/r/releases/latest": { json: { tag_name: "v1.2.3" } },
    "/o/r/archive/v1.2.3.tar.gz": { body: tarball },
    "POST /echo": (request) => request.text().then((text) => new Response(text.toUpperCase())),
  });
  assert(/^http:\/\/127\.0\.0\.1:\d+$/.test(server.url), server.url);

  const latest = await fetch(`${server.url}/repos/o/r/releases/latest`, {
    headers: { accept: "application/vnd.github+json" },
  });
  assertEquals(latest.headers.get("content-type"), "application/json");
  assertEquals(await latest.json(), { tag_name: "v1.2.3" });

  const bytes = await fetch(`${server.url}/o/r/archive/v1.2.3.tar.gz`);
  assertEquals(bytes.headers.get("content-type"), "application/octet-stream");
  assertEquals(new Uint8Array(await bytes.arrayBuffer()), tarball);

  const echo = await fetch(`${server.url}/echo`, { method: "POST", body: "hi" });
  assertEquals(await echo.text(), "HI");

  const missing = await fetch(`${server.url}/nope?x=1`);
  assertEquals(missing.status, 404);
  assertEquals(await missing.json(), { message: "Not Found", path: "/nope" });

  // A GET-only route does not answer other methods.
  const wrongMethod = await fetch(`${server.url}/repos/o/r/releases/latest`, { method: "DELETE" });
  assertEquals(wrongMethod.status, 404);
  await wrongMethod.body?.cancel();

  server.route("/late", { status: 201, body: "added", headers: { "x-test": "1" } });
  const late = await fetch(`${server.url}/late`);
  assertEquals([late.status, late.headers.get("x-test"), await late.text()], [201, "1", "added"]);

  assertEquals(
    server.requests.map((r) => `${r.method} ${r.path} ${r.body}`),
    [
      "GET /repos/o/r/releases/latest ",
      "GET /o/r/archive/v1.2.3.tar.gz ",
      "POST /echo hi",
      "GET /nope?x=1 ",
      "DELETE /repos/o/r/releases/latest ",
      "GET /late ",
    ],
  );
  assertEquals(server.requests[0]?.headers["accept"], "application/vnd.github+json");
});

Deno.test("startHttpServer() stops listening when disposed", async () => {
  let url: string;
  {
    await using server = startHttpServer({ "/": { body: "up" } });
    url = server.url;
    assertEquals(await (await fetch(url)).text(), "up");
  }
  const refused = await fetch(url).then(() => false, () => true);
  assert(refused, "the port is closed");
});

Deno.test("matchRoute() prefers method and exact query, then falls back to the path", () => {
  const routes = {
    "/p": { body: "any" },
    "GET /p": { body: "get" },
    "/p?page=2": { body: "page2" },
  };
  const match = (method: string, path: string) => {
    const route = matchRoute(routes, method, new URL(`http://x${path}`));
    return route !== undefined && typeof route !== "function" ? route.body : undefined;
  };
  assertEquals(match("GET", "/p"), "get");
  assertEquals(match("POST", "/p"), "any");
  assertEquals(match("GET", "/p?page=2"), "page2");
  assertEquals(match("GET", "/p?page=3"), "get");
  assertEquals(match("GET", "/q"), undefined);
});
