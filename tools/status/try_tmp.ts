import { statusFleet } from "./_test_fleet.ts";
await using f = await statusFleet(2);
await f.deploy("--all");
const r = await f.status();
console.log(r.code, r.stdout, r.stderr);
const j = await f.status("--json", "--eval");
console.log(j.code, j.stdout.slice(0, 3000), j.stderr);
