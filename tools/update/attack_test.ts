// Regressions found by attacking `deno task update` as users run it: a first page of releases
// that holds only pre-releases, and upstream text that reaches the terminal. The task runs as a
// subprocess against a local HTTP upstream, with nix evaluating real package files (the corpus)
// through the update stand-in for nixpkgs.
import { assertEquals } from "../testing/assert.ts";
import { startHttpServer } from "../testing/http_server.ts";
import { CHECKOUT, runTask } from "../testing/task.ts";
import { createStandInRepo, updateProgramsBin } from "./_test_support.ts";

const corpus = (name: string) =>
  Deno.readTextFileSync(`${CHECKOUT}/tools/testing/fixtures/packages/${name}/package.nix`);

function env(url: string): Record<string, string> {
  return {
    GITHUB_API_URL: url,
    GITHUB_SERVER_URL: `${url}/web`,
    NPM_REGISTRY_URL: url,
    GITLAB_API_URL: `${url}/api/v4`,
  };
}

interface Report {
  packages: { name: string; kind: string; to?: string; reason?: string; message?: string }[];
}

Deno.test("a first page of 100 pre-releases: the newest stable release (on a later page) is found, not 'up to date'", async () => {
  await using server = startHttpServer();
  // jansson is at 2.15.1; 100 release candidates of 3.0.0 fill GitHub's first page, and the
  // stable 2.16.0 is only on page 2. GitHub's "latest release" is the newest stable one.
  const candidates = Array.from({ length: 100 }, (_, i) => ({
    tag_name: `v3.0.0-rc.${100 - i}`,
    prerelease: true,
  }));
  server.route("GET /repos/akheron/jansson/releases?per_page=100", { json: candidates });
  server.route("GET /repos/akheron/jansson/releases?per_page=100&page=2", {
    json: [{ tag_name: "v2.16.0" }, { tag_name: "v2.15.1" }],
  });
  server.route("GET /repos/akheron/jansson/releases/latest", { json: { tag_name: "v2.16.0" } });
  await using repo = await createStandInRepo(server.url, { jansson: corpus("jansson") });
  await using bin = await updateProgramsBin();
  const result = await runTask(repo.dir, "update", ["--check", "--json"], {
    bin,
    env: env(server.url),
  });
  assertEquals(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as Report;
  assertEquals(report.packages.map((p) => [p.name, p.kind, p.to]), [
    ["jansson", "outdated", "2.16.0"],
  ]);
});
