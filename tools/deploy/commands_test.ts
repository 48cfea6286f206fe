import { assert, assertEquals, assertStringIncludes } from "../testing/assert.ts";
import {
  closeMasterArgv,
  keyscanArgv,
  masterArgv,
  socketName,
  sshArgv,
  type SshContext,
} from "../lib/fleet/mod.ts";
import {
  activateCommand,
  asRoot,
  buildArgv,
  controlCommand,
  copyArgv,
  evalToplevelsArgv,
  newRunId,
  nixSshEnv,
  probeCommand,
  storeUrl,
} from "./commands.ts";
import type { HostPlan } from "./plan.ts";

const host: HostPlan = {
  host: "web1",
  address: "192.0.2.10",
  port: 2222,
  user: "root",
  buildOn: "local",
  mode: "switch",
  confirmTimeout: 30,
  activationTimeout: 300,
  healthCheckTimeout: 60,
  healthChecks: [],
  rollback: true,
  sudo: "none",
  toplevelAttr: "nixosConfigurations.web1.config.system.build.toplevel",
};
const ctx: SshContext = {
  knownHostsFile: "/tmp/kh/known_hosts",
  extraOptions: ["IdentityFile=/k"],
  connectTimeout: 7,
};

Deno.test("sshArgv() pins the known_hosts, never trusts on first use, opens a new connection", () => {
  const argv = sshArgv(host, ctx, "true");
  assertEquals(argv.slice(0, 3), ["ssh", "-p", "2222"]);
  assertEquals(argv.slice(-3), ["--", "root@192.0.2.10", "true"]);
  const options = argv.filter((_, i) => argv[i - 1] === "-o");
  for (
    const o of [
      "UserKnownHostsFile=/tmp/kh/known_hosts",
      "GlobalKnownHostsFile=/dev/null",
      "StrictHostKeyChecking=yes",
      "HostKeyAlgorithms=ssh-ed25519",
      "BatchMode=yes",
      "ControlMaster=no",
      "ControlPath=none",
      "ConnectTimeout=7",
      "IdentityFile=/k",
      "HostKeyAlias=web1",
      "CheckHostIP=no",
    ]
  ) assert(options.includes(o), `missing -o ${o}`);
});

Deno.test("nixSshEnv() gives nix copy the same ssh options", () => {
  const env = nixSshEnv(host, ctx);
  assertStringIncludes(env.NIX_SSHOPTS!, "-p 2222 -o UserKnownHostsFile=/tmp/kh/known_hosts");
  assertStringIncludes(env.NIX_SSHOPTS!, "-o StrictHostKeyChecking=yes");
  // The store URL names the host (nix 2.8 cannot parse every IPv6 literal); ssh gets the
  // address as HostName, '%' (an IPv6 zone) doubled as ssh expands tokens there.
  assertEquals(storeUrl(host), "ssh-ng://root@web1");
  assert(env.NIX_SSHOPTS!.endsWith("-o HostName=192.0.2.10"));
  const v6 = nixSshEnv({ ...host, address: "fe80::1%eth0" }, ctx);
  assert(v6.NIX_SSHOPTS!.endsWith("-o HostName=fe80::1%%eth0"));
});

Deno.test("socketName() keeps control socket names short whatever the host name", () => {
  assertEquals(socketName("web1"), "web1.sock");
  const long = `h${"x".repeat(61)}1`;
  const name = socketName(long);
  assert(name.length <= 30, name);
  assert(name.startsWith("hxxxxxxxxxxx-"), name);
  // Two long names with the same start get different sockets.
  assert(socketName(`h${"x".repeat(61)}2`) !== name);
});

Deno.test("copyArgv() substitutes on the destination; --no-check-sigs only when asked", () => {
  assertEquals(copyArgv(host, "/nix/store/x-sys", { noCheckSigs: false }), [
    "nix",
    "copy",
    "--to",
    "ssh-ng://root@web1",
    "--substitute-on-destination",
    "--",
    "/nix/store/x-sys",
  ]);
  assertEquals(copyArgv(host, "/nix/store/x.drv", { noCheckSigs: true, derivation: true }), [
    "nix",
    "copy",
    "--derivation",
    "--to",
    "ssh-ng://root@web1",
    "--substitute-on-destination",
    "--no-check-sigs",
    "--",
    "/nix/store/x.drv",
  ]);
});

Deno.test("evalToplevelsArgv() and buildArgv() read and build all hosts at once (nix 2.8 flags)", () => {
  const evalArgv = evalToplevelsArgv("/repo", ["web1", "db1"]);
  assertEquals(evalArgv.slice(0, 4), ["nix", "eval", "--json", "/repo#nixosConfigurations"]);
  assertEquals(evalArgv[4], "--apply");
  assertEquals(buildArgv(["/nix/store/a.drv", "/nix/store/b.drv"]), [
    "nix",
    "build",
    "--json",
    "--no-link",
    "--",
    "/nix/store/a.drv",
    "/nix/store/b.drv",
  ]);
  assert(!buildArgv(["x"]).includes("--print-out-paths"), "nix 2.8 has no --print-out-paths");
});

Deno.test("probeCommand() reads the generation, then diffs on the target with nix-command", () => {
  const command = probeCommand("/nix/store/b-sys");
  assert(command.endsWith(" devops-deploy /nix/store/b-sys"), command.slice(-40));
  assertStringIncludes(
    command,
    "nix --extra-experimental-features nix-command store diff-closures",
  );
  assertStringIncludes(command, "readlink /nix/var/nix/profiles/system");
});

Deno.test("sshArgv() shares the deploy's own connection; the confirmation gets a new one", () => {
  const shared = { ...ctx, controlDir: "/tmp/d" };
  assertStringIncludes(
    sshArgv(host, shared, "x").join(" "),
    "-o ControlMaster=no -o ControlPath=/tmp/d/web1.sock",
  );
  assertStringIncludes(
    sshArgv(host, shared, "x", "new").join(" "),
    "-o ControlMaster=no -o ControlPath=none",
  );
  const master = masterArgv(host, shared, 600).join(" ");
  assert(master.startsWith("ssh -M -N -f -p 2222"), master);
  assertStringIncludes(master, "-o ControlMaster=yes -o ControlPath=/tmp/d/web1.sock");
  assertStringIncludes(master, "-o StrictHostKeyChecking=yes");
  assertStringIncludes(master, "-o ControlPersist=600 -- root@192.0.2.10");
  assertEquals(closeMasterArgv(host, shared).slice(0, 3), ["ssh", "-O", "exit"]);
  assertStringIncludes(nixSshEnv(host, shared).NIX_SSHOPTS!, "ControlPath=/tmp/d/web1.sock");
});

Deno.test("asRoot() uses no sudo for root, sudo -n, or sudo -S with the password on stdin", () => {
  assertEquals(asRoot(host, "cmd"), "cmd");
  assertEquals(asRoot({ ...host, user: "deploy", sudo: "nopasswd" }, "cmd"), "sudo -n cmd");
  assertEquals(asRoot({ ...host, user: "deploy", sudo: "password" }, "cmd"), "sudo -S -p '' cmd");
});

Deno.test("activateCommand() passes the run, adoption, bounds, system, mode and rollback", () => {
  const ids = { run: "ab12", by: "root@box:1:2" };
  const command = activateCommand(
    { ...host, mode: "test", confirmTimeout: 5 },
    ids,
    "/nix/store/x-sys",
  );
  assert(command.startsWith("sh -c '"), command.slice(0, 20));
  assert(
    command.endsWith(
      " ab12 '' 1055 root@box:1:2 /nix/store/x-sys test 5 300 1 /nix/var/nix/profiles/system /run/current-system 60",
    ),
    command.slice(-140),
  );
  const noRollback = activateCommand(
    { ...host, rollback: false, user: "u", sudo: "nopasswd" },
    { ...ids, adopt: "cd34" },
    "/x",
  );
  assert(noRollback.startsWith("sudo -n sh -c "));
  assertStringIncludes(noRollback, " ab12 cd34 1080 root@box:1:2 /x switch 30 300 0 ");
  // boot activates nothing: no built-in check (0 s), none in the launcher's wait either; every
  // wait includes the rollback's two bounded activations (2 × 300 s).
  assert(
    activateCommand({ ...host, mode: "boot" }, ids, "/x").endsWith(
      " ab12 '' 960 root@box:1:2 /x boot 30 300 1 /nix/var/nix/profiles/system /run/current-system 0",
    ),
  );
});

Deno.test("controlCommand() names the run, the action and how long to wait", () => {
  assert(controlCommand(host, "ab12", "confirm", 40).endsWith(" devops-deploy ab12 confirm 40"));
});

Deno.test("newRunId() is a fresh random hex id", () => {
  assertEquals(newRunId(new Uint8Array([0, 255, 16])), "00ff10");
  assert(newRunId() !== newRunId());
});

Deno.test("keyscanArgv() asks for the Ed25519 key only", () => {
  assertEquals(keyscanArgv(host.address, host.port, 5), [
    "ssh-keyscan",
    "-T",
    "5",
    "-p",
    "2222",
    "-t",
    "ed25519",
    "--",
    "192.0.2.10",
  ]);
});
