import { assertEquals } from "./assert.ts";
import { captureMain } from "./capture.ts";

Deno.test("captureMain() collects stdout and stderr and restores the console", async () => {
  const log = console.log;
  const captured = await captureMain(() => {
    console.log("result", 1);
    console.error("progress");
    return Promise.resolve(3);
  });
  assertEquals(captured, { code: 3, stdout: "result 1", stderr: "progress" });
  assertEquals(console.log, log);
});
