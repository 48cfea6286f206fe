import { assert, assertEquals, assertMatch, assertStringIncludes } from "../testing/assert.ts";
import { runTask } from "../testing/task.ts";
import { createTempRepo, type TempRepo } from "../testing/temp_repo.ts";
import { installToolkit } from "../testing/task.ts";
import { currentSystem } from "./facts.ts";
import { GIT_IDENTITY, updateProgramsBin } from "./_test_support.ts";
import { lockedInputs } from "./lock.ts";

/** A fleet flake whose two inputs are local git repositories (git+file://, not flakes). */
function fleetFlake(app: string, theme: string): Record<string, string> {
  return {
    "configurations/web1/default.nix": "{ }\n",
    "configurations/web2/default.nix": "{ }\n",
    "flake.nix": `# Fixture fleet whose hosts use a package built from an input.
{
  inputs = {
    app = { url = "git+file://${app}"; flake = false; };
    theme = { url = "git+file://${theme}"; flake = false; };
  };
  outputs = { self, app, theme }:
    let
      system = "${currentSystem()}";
      version = builtins.head (builtins.split "\\n" (builtins.readFile "\${app}/version"));
      appPackage = derivation {
        name = "app-\${version}";
        inherit system;
        builder = "/bin/sh";
        args = [ "-c" "read -r v < \${app}/version; echo $v > $out" ];
      };
      toplevel = host: derivation {
        name = "nixos-system-\${host}";
        inherit system;
        builder = "/bin/sh";
        args = [ "-c" "if [ -e \${app}/fail-\${host} ]; then echo \${host} breaks >&2; exit 1; fi; read -r t < \${theme}/colour; echo \${appPackage} $t > $out" ];
      };
    in
    {
      nixosConfigurations = builtins.mapAttrs (host: _: {
        config.system.build.toplevel = toplevel host;
      }) { web1 = { }; web2 = { }; };
    };
}
`,
  };
}

async function commitTo(repo: TempRepo, files: Record<string, string>, message: string) {
  await repo.write(files);
  await repo.git("add", "-A");
  await repo.git("commit", "-q", "-m", message);
  return (await repo.git("rev-parse", "HEAD")).trim();
}

async function fixture() {
  const app = await createTempRepo({ version: "1.0\n" });
  const theme = await createTempRepo({ colour: "blue\n" });
  const fleet = await createTempRepo(fleetFlake(app.dir, theme.dir));
  await installToolkit(fleet.dir);
  await fleet.git("add", "-A");
  await fleet.git("commit", "-q", "-m", "toolkit");
  return {
    app,
    theme,
    fleet,
    async [Symbol.asyncDispose]() {
      for (const r of [fleet, app, theme]) await r[Symbol.asyncDispose]();
    },
  };
}

Deno.test("update --inputs without a lock creates one, every input new", async () => {
  await using f = await fixture();
  await using bin = await updateProgramsBin();
  const result = await runTask(f.fleet.dir, "update", ["--inputs", "--json"], { bin });
  assertEquals(result.code, 0, result.stderr);
  const report = JSON.parse(result.stdout) as {
    lock: string;
    inputs: { name: string; kind: string }[];
    hosts: { name: string; result: { kind: string } }[];
  };
  assertEquals(report.lock, "created");
  assertEquals(report.inputs.map((i) => [i.name, i.kind]), [["app", "new"], ["theme", "new"]]);
  assertEquals(report.hosts.map((h) => [h.name, h.result.kind]), [
    ["web1", "built"],
    ["web2", "built"],
  ]);
  const lock = lockedInputs(await Deno.readTextFile(f.fleet.path("flake.lock")));
  assertEquals(lock.get("app")?.rev, (await f.app.git("rev-parse", "HEAD")).trim());
});

Deno.test("update --inputs --commit moves an input: rev/date report, per-host closure diff, one commit", async () => {
  await using f = await fixture();
  await using bin = await updateProgramsBin();
  const env = GIT_IDENTITY;
  // A first lock, committed.
  assertEquals((await runTask(f.fleet.dir, "update", ["--inputs", "--no-build"], { bin })).code, 0);
  await f.fleet.git("add", "flake.lock");
  await f.fleet.git("commit", "-q", "-m", "lock");
  const oldApp = (await f.app.git("rev-parse", "HEAD")).trim();
  const newApp = await commitTo(f.app, { version: "1.1\n" }, "app 1.1");
  const newTheme = await commitTo(f.theme, { colour: "green\n" }, "theme green");
  const today = new Date().toISOString().slice(0, 10);

  const result = await runTask(f.fleet.dir, "update", ["--inputs", "--commit", "app"], {
    bin,
    env,
  });
  assertEquals(result.code, 0, result.stderr);
  assertStringIncludes(
    result.stdout,
    `app    ${oldApp.slice(0, 12)} (${today}) -> ${newApp.slice(0, 12)} (${today})`,
  );
  assertMatch(result.stdout, /theme {2}[0-9a-f]{12} \(\d{4}-\d{2}-\d{2}\) \(unchanged\)/);
  // The closure diff of each host names the package that moved.
  assertMatch(result.stdout, /web1: closure diff:\n\s+app: 1\.0 → 1\.1/);
  assertMatch(result.stdout, /web2: closure diff:\n\s+app: 1\.0 → 1\.1/);
  assertStringIncludes(result.stdout, "flake.lock updated, committed");

  const lock = lockedInputs(await Deno.readTextFile(f.fleet.path("flake.lock")));
  assertEquals(lock.get("app")?.rev, newApp);
  assert(lock.get("theme")?.rev !== newTheme, "only the named input moved");
  const message = await f.fleet.git("log", "-1", "--format=%B");
  assertStringIncludes(message, "flake.lock: update app");
  assertStringIncludes(message, `${oldApp.slice(0, 12)} (${today}) -> ${newApp.slice(0, 12)}`);
  assertMatch(message, /web1: closure diff:\n\s+app: 1\.0 → 1\.1/);
  assertEquals(
    (await f.fleet.git("show", "--name-only", "--format=", "HEAD")).trim(),
    "flake.lock",
  );
  assertEquals((await f.fleet.git("status", "--porcelain")).trim(), "");

  // Everything else, all at once.
  const all = await runTask(f.fleet.dir, "update", ["--inputs", "--hosts", "web1"], { bin, env });
  assertEquals(all.code, 0, all.stderr);
  assertEquals(
    lockedInputs(await Deno.readTextFile(f.fleet.path("flake.lock"))).get("theme")?.rev,
    newTheme,
  );
  assertStringIncludes(all.stdout, "web1: ");
  assert(!all.stdout.includes("web2:"), "--hosts builds only the hosts named");
});

Deno.test("update --inputs leaves flake.lock as it was when a host fails to build, naming the host", async () => {
  await using f = await fixture();
  await using bin = await updateProgramsBin();
  assertEquals((await runTask(f.fleet.dir, "update", ["--inputs", "--no-build"], { bin })).code, 0);
  await f.fleet.git("add", "flake.lock");
  await f.fleet.git("commit", "-q", "-m", "lock");
  const original = await Deno.readTextFile(f.fleet.path("flake.lock"));
  await commitTo(f.app, { version: "2.0\n", "fail-web2": "" }, "breaks web2");

  const result = await runTask(f.fleet.dir, "update", ["--inputs", "--commit"], {
    bin,
    env: GIT_IDENTITY,
  });
  assertEquals(result.code, 1, result.stderr);
  assertMatch(
    result.stdout,
    /^web2: failed to build: builder for '.*-nixos-system-web2\.drv' failed with exit code 1 \(last log line: nixos-system-web2> web2 breaks\)$/m,
  );
  assertStringIncludes(result.stdout, "web1: closure diff:");
  assertStringIncludes(result.stdout, "flake.lock left as it was: a host failed to build");
  assertEquals(await Deno.readTextFile(f.fleet.path("flake.lock")), original);
  assertEquals((await f.fleet.git("log", "-1", "--format=%s")).trim(), "lock");
});

Deno.test("update --inputs refuses an input the lock does not have", async () => {
  await using f = await fixture();
  await using bin = await updateProgramsBin();
  assertEquals((await runTask(f.fleet.dir, "update", ["--inputs", "--no-build"], { bin })).code, 0);
  const result = await runTask(f.fleet.dir, "update", ["--inputs", "nixpkgs"], { bin });
  assertEquals(result.code, 2);
  assertStringIncludes(
    result.stderr,
    `Cannot update input "nixpkgs": flake.lock has no such input (inputs: app, theme)`,
  );
});

Deno.test("update --inputs --dry-run works the new lock out and builds, but writes and commits nothing", async () => {
  await using f = await fixture();
  await using bin = await updateProgramsBin();
  assertEquals((await runTask(f.fleet.dir, "update", ["--inputs", "--no-build"], { bin })).code, 0);
  await f.fleet.git("add", "flake.lock");
  await f.fleet.git("commit", "-q", "-m", "lock");
  const original = await Deno.readTextFile(f.fleet.path("flake.lock"));
  await commitTo(f.theme, { colour: "red\n" }, "theme red");
  const result = await runTask(f.fleet.dir, "update", ["--inputs", "--dry-run", "--commit"], {
    bin,
    env: GIT_IDENTITY,
  });
  assertEquals(result.code, 0, result.stderr);
  assertMatch(result.stdout, /^theme {2}[0-9a-f]{12} \(\S+\) -> [0-9a-f]{12} \(\S+\)$/m);
  assertStringIncludes(result.stdout, "web1: new toplevel, no package changes");
  assertStringIncludes(result.stdout, "flake.lock would be updated (dry run)");
  assertStringIncludes(result.stderr, "would run: git -C");
  assertEquals(await Deno.readTextFile(f.fleet.path("flake.lock")), original);
  assertEquals((await f.fleet.git("log", "-1", "--format=%s")).trim(), "lock");
});

Deno.test("update --inputs --commit whose commit a pre-commit hook refuses leaves file and index as they were", async () => {
  await using f = await fixture();
  await using bin = await updateProgramsBin();
  assertEquals((await runTask(f.fleet.dir, "update", ["--inputs", "--no-build"], { bin })).code, 0);
  await f.fleet.git("add", "flake.lock");
  await f.fleet.git("commit", "-q", "-m", "lock");
  const lockBefore = await Deno.readTextFile(f.fleet.path("flake.lock"));
  await commitTo(f.app, { version: "1.1\n" }, "app 1.1");
  await Deno.writeTextFile(
    f.fleet.path(".git/hooks/pre-commit"),
    "#!/bin/sh\necho 'hook: lint failed' >&2\nexit 1\n",
    { mode: 0o755 },
  );

  const result = await runTask(f.fleet.dir, "update", ["--inputs", "--commit", "--no-build"], {
    bin,
    env: GIT_IDENTITY,
  });
  assertEquals(result.code, 1, result.stdout);
  assertStringIncludes(result.stderr, "hook: lint failed");
  assertEquals(await Deno.readTextFile(f.fleet.path("flake.lock")), lockBefore);
  // Nothing staged either: the user's next commit does not take the new lock.
  assertEquals((await f.fleet.git("status", "--porcelain")).trim(), "");
});

Deno.test("update --inputs --commit with a locked git index leaves flake.lock as it was, naming index.lock", async () => {
  await using f = await fixture();
  await using bin = await updateProgramsBin();
  assertEquals((await runTask(f.fleet.dir, "update", ["--inputs", "--no-build"], { bin })).code, 0);
  await f.fleet.git("add", "flake.lock");
  await f.fleet.git("commit", "-q", "-m", "lock");
  const lockBefore = await Deno.readTextFile(f.fleet.path("flake.lock"));
  await commitTo(f.app, { version: "1.1\n" }, "app 1.1");
  // Another git process (or one that crashed) holds the index: `git add` fails.
  await Deno.writeTextFile(f.fleet.path(".git/index.lock"), "");

  const result = await runTask(f.fleet.dir, "update", ["--inputs", "--commit", "--no-build"], {
    bin,
    env: GIT_IDENTITY,
  });
  assertEquals(result.code, 1, result.stdout);
  assertMatch(
    result.stderr,
    /^error: Cannot commit flake\.lock: Unable to create '[^']*index\.lock': File exists\.; flake\.lock left as it was$/m,
  );
  assertEquals(await Deno.readTextFile(f.fleet.path("flake.lock")), lockBefore);
  await Deno.remove(f.fleet.path(".git/index.lock"));
  assertEquals((await f.fleet.git("status", "--porcelain")).trim(), "");
});

Deno.test("update --inputs names why nix cannot move an input called app-23.11 alone", async () => {
  await using f = await fixture();
  const flake = await Deno.readTextFile(f.fleet.path("flake.nix"));
  await Deno.writeTextFile(
    f.fleet.path("flake.nix"),
    flake.replace("app = { url", `"app-23.11" = { url`).replace(
      "{ self, app, theme }",
      "{ self, theme, ... }@inputs",
    )
      .replaceAll("${app}", '${inputs."app-23.11"}'),
  );
  await f.fleet.git("commit", "-qam", "dotted input");
  await using bin = await updateProgramsBin();
  // nix locks an input of that name.
  const all = await runTask(f.fleet.dir, "update", ["--inputs", "--no-build"], { bin });
  assertEquals(all.code, 0, all.stderr);
  assert(lockedInputs(await Deno.readTextFile(f.fleet.path("flake.lock"))).has("app-23.11"));
  // Moving it alone: not "Invalid input name", but nix's own rule for input paths.
  const one = await runTask(f.fleet.dir, "update", ["--inputs", "--no-build", "app-23.11"], {
    bin,
  });
  assertEquals(one.code, 2, one.stdout);
  assertStringIncludes(one.stderr, `Cannot update input "app-23.11" alone: nix locks it`);
  assertStringIncludes(one.stderr, "[a-zA-Z][a-zA-Z0-9_-]*");
});
