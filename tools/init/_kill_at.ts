// Test entry point: runs the init CLI and kills this process with SIGKILL at the Nth point a kill
// could land (a journal written, an output recorded, a file renamed). Run:
// deno run -A tools/init/_kill_at.ts <N> <init args…>. Only the kill test uses it.
import { main } from "./main.ts";

const [at, ...args] = Deno.args;
const killAt = Number(at);
let seen = 0;
Deno.exit(
  await main(args, {
    onEvent() {
      seen++;
      if (seen === killAt) Deno.kill(Deno.pid, "SIGKILL");
    },
  }),
);
