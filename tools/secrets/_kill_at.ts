// Test entry point: runs the secrets CLI and kills this process with SIGKILL at the Nth point a
// kill could land (journal written, an output recorded, a file renamed). Run:
// deno run -A tools/secrets/_kill_at.ts <N> <secrets args…>. Only the kill tests use it.
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
