import { assertEquals } from "../testing/assert.ts";
import { runProgram } from "../testing/run.ts";
import { killRestOfOwnNetworkNamespace, ownNetworkNamespace } from "./namespace.ts";

Deno.test("killRestOfOwnNetworkNamespace() kills nothing in its parent's network namespace", async () => {
  const sleeper = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    assertEquals(await ownNetworkNamespace(), undefined);
    assertEquals(await killRestOfOwnNetworkNamespace(), []);
    assertEquals(await Deno.stat(`/proc/${sleeper.pid}`).then(() => true), true);
  } finally {
    sleeper.kill("SIGKILL");
    await sleeper.status;
  }
});

Deno.test("killRestOfOwnNetworkNamespace() ends every other process of a namespace made for it", async () => {
  // A daemonised sleep (its own session) in the namespace, as an ssh master would be.
  const script = `
    import { killRestOfOwnNetworkNamespace } from ${
    JSON.stringify(import.meta.resolve("./namespace.ts"))
  };
    const child = new Deno.Command("setsid", { args: ["-f", "sleep", "300"] }).spawn();
    await child.status;
    const killed = await killRestOfOwnNetworkNamespace();
    console.log(JSON.stringify(killed.length));
  `;
  const result = await runProgram([
    "unshare",
    "--net",
    "--",
    Deno.execPath(),
    "eval",
    script,
  ]);
  assertEquals([result.code, result.stdout.trim()], [0, "1"], result.stderr);
});
