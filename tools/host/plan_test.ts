import { assert, assertEquals, assertStringIncludes, assertThrows } from "../testing/assert.ts";
import { UsageError } from "../lib/errors.ts";
import {
  defaultNix,
  deployNix,
  describeRequest,
  describeStep,
  diskoNix,
  diskProblem,
  type HostRequest,
  monitoringNix,
  nextSteps,
  parseRequest,
  planHostNew,
  type RepoFacts,
} from "./plan.ts";

const request: HostRequest = {
  name: "web1",
  profile: "server",
  address: "192.0.2.5",
  disk: "/dev/sda",
  system: "x86_64-linux",
};
const noDisk: HostRequest = {
  name: "web1",
  profile: "server",
  address: "192.0.2.5",
  system: "x86_64-linux",
};
const empty: RepoFacts = { indexedHosts: ["nas1"], secretsFile: false, sopsAnchor: false };

Deno.test("parseRequest() checks name, profile, address and disk; the address defaults to the name", () => {
  assertEquals(parseRequest({ name: "web1", profile: "devhost" }), {
    name: "web1",
    profile: "devhost",
    address: "web1",
    system: "x86_64-linux",
  });
  for (
    const [args, message] of [
      [{ name: "1web", profile: "server" }, "is not a valid host name"],
      [{ name: "web1" }, "give --profile"],
      [{ name: "web1", profile: "desktop" }, 'unknown profile "desktop"'],
      [{ name: "web1", profile: "server", address: "a b" }, 'invalid --address "a b"'],
      [{ name: "web1", profile: "server", disk: "/dev/sd a" }, 'invalid --disk "/dev/sd a"'],
      [
        { name: "web1", profile: "server", system: "riscv64-linux" },
        'unknown --system "riscv64-linux"',
      ],
    ] as const
  ) {
    const error = assertThrows(() => parseRequest(args), message);
    assert(error instanceof UsageError, `${message}: a usage error`);
  }
});

Deno.test("diskProblem() takes /dev paths only, without '..'", () => {
  assertEquals(diskProblem("/dev/disk/by-id/nvme-Samsung_SSD_980_1TB_S64ANS0T1234"), undefined);
  assertEquals(diskProblem("/dev/nvme0n1"), undefined);
  assert(diskProblem("/dev/disk/../../etc/passwd") !== undefined);
  assert(diskProblem('/dev/sda"; rm -rf /') !== undefined);
  assert(diskProblem("/dev/${x}") !== undefined);
});

Deno.test("planHostNew() lists the steps in order, disko only with a disk", () => {
  const plan = planHostNew(request, empty, { diskKey: "k" });
  assertEquals(plan.resumed, false);
  assertEquals(plan.steps.map((s) => s.kind), [
    "begin",
    "create",
    "create",
    "create",
    "create",
    "host-key",
    "secrets",
    "index",
    "finish",
  ]);
  assertEquals(plan.steps.filter((s) => s.kind === "create").map((s) => s.path), [
    "configurations/web1/default.nix",
    "configurations/web1/deploy.nix",
    "configurations/web1/monitoring.nix",
    "configurations/web1/disko.nix",
  ]);
  const bareSteps = planHostNew(noDisk, empty, {
    diskKey: "k",
  });
  assert(!bareSteps.steps.some((s) => s.kind === "create" && s.path.endsWith("disko.nix")));
  assert(!bareSteps.steps.some((s) => s.kind === "secrets" && s.diskKey !== undefined));
  for (const step of plan.steps) assert(describeStep(step) !== "");
});

Deno.test("planHostNew() refuses a taken name unless its own unfinished run left the marker", () => {
  for (
    const [facts, cause] of [
      [{ ...empty, indexedHosts: ["web1"] }, "it is in configurations/nixos-configurations.nix"],
      [{ ...empty, folder: ["default.nix"] }, "configurations/web1/ exists"],
      [{ ...empty, secretsFile: true }, "secrets/web1.yaml exists"],
      [{ ...empty, sopsAnchor: true }, ".sops.yaml has &host_web1"],
    ] as const
  ) {
    assertThrows(() => planHostNew(request, facts), `the name is taken (${cause})`);
  }
  // A key a person made in the folder is not a taken name.
  const withKey = { ...empty, folder: ["ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"] };
  assertEquals(planHostNew(request, withKey).resumed, false);
  // Its own marker: the run is finished, whatever it made already.
  const resumed = planHostNew(request, {
    ...empty,
    folder: ["default.nix"],
    secretsFile: true,
    sopsAnchor: true,
    marker: request,
  });
  assertEquals(resumed.resumed, true);
  // Another request's marker: refused, naming the command that finishes it.
  assertThrows(
    () => planHostNew({ ...request, profile: "devhost" }, { ...empty, marker: request }),
    "an unfinished `host new web1 --profile server --address 192.0.2.5 --disk /dev/sda`",
  );
});

Deno.test("the templates: profile import, stateVersion 26.05 with its comment, deploy facts, disko", () => {
  const nix = defaultNix(request);
  assertStringIncludes(nix, "    modules.profile-server\n    ./disko.nix\n");
  assertStringIncludes(nix, 'system.stateVersion = "26.05";');
  assertStringIncludes(nix, "Never\n  # change it");
  assert(!nix.includes("fileSystems"), "disko gives the file systems");
  const bare = defaultNix({ ...noDisk, profile: "workstation" });
  assertStringIncludes(bare, "modules.profile-workstation\n  ];");
  assertStringIncludes(bare, 'fileSystems."/" = {');
  const deploy = deployNix(request);
  assertStringIncludes(deploy, 'address = "192.0.2.5";');
  assertStringIncludes(deploy, 'tags = [ "server" ];');
  assertStringIncludes(diskoNix("web1", "/dev/sda"), 'device = "/dev/sda";');
  assertStringIncludes(diskoNix("web1", "/dev/sda"), 'passwordFile = "/tmp/disk-encryption.key";');
});

Deno.test("nextSteps() ends with install and deploy; a workstation's admin gets a password", () => {
  const next = nextSteps({ ...request, profile: "workstation" });
  assert(next[0]!.startsWith("git add configurations/web1"));
  assert(next.some((l) => l.startsWith("deno task secrets password admin --host web1")));
  assert(next.at(-2)!.startsWith("deno task install web1 --target <installer address>"));
  assert(
    nextSteps(noDisk).some((l) => l.includes("disko.nix")),
  );
});

Deno.test("host new --monitoring-interface: monitoring.nix scrapes it there; a bad name is refused", () => {
  const monitored = parseRequest({
    name: "web2",
    profile: "workstation",
    address: "192.0.2.71",
    monitoringInterface: "wg0",
  });
  const text = monitoringNix(monitored);
  assertStringIncludes(text, 'interface = "wg0";');
  assertStringIncludes(text, 'address = "192.0.2.71";');
  assertStringIncludes(text, 'presence = "intermittent";');
  assertStringIncludes(
    monitoringNix(parseRequest({ name: "web3", profile: "server" })),
    "exempt =",
  );
  for (const bad of ['en"p1', "a b", "much-too-long-interface", ""]) {
    assertThrows(
      () => parseRequest({ name: "web2", profile: "server", monitoringInterface: bad }),
      "invalid --monitoring-interface",
    );
  }
});

Deno.test("host new --system aarch64-linux: the deploy facts say it and build on the machine itself", () => {
  const arm = parseRequest({ name: "pi1", profile: "server", system: "aarch64-linux" });
  assertEquals(arm.system, "aarch64-linux");
  const deploy = deployNix(arm);
  assertStringIncludes(deploy, 'system = "aarch64-linux";');
  assertStringIncludes(deploy, 'buildOn = "remote";');
  assertStringIncludes(deployNix(noDisk), 'buildOn = "local";');
  // A rerun with another --system is another request: the marker of the first does not match.
  assertEquals(describeRequest(arm), "host new pi1 --profile server --system aarch64-linux");
  assertEquals(describeRequest(noDisk), "host new web1 --profile server --address 192.0.2.5");
});
