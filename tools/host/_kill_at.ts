// Test entry point: runs `host` and kills this process with SIGKILL at the Nth point a kill could
// land (after each step of host new, and at each event of the secrets executor inside its
// secrets step). Run: deno run -A tools/host/_kill_at.ts <N> <host args…>. Only the kill test
// uses it.
import { main } from "./main.ts";

const [at, ...args] = Deno.args;
const killAt = Number(at);
let seen = 0;
const maybeKill = () => {
  seen++;
  if (seen === killAt) Deno.kill(Deno.pid, "SIGKILL");
};
Deno.exit(await main(args, { afterStep: maybeKill, onEvent: maybeKill }));
