// The demo fleet of `deno task demo`: a repository in the real layout (flake.nix,
// lib/hosts.nix, configurations/<host>/deploy.nix and host key) whose "NixOS systems" are small
// stand-ins with no inputs, so the real nix evaluates and builds them in a second, offline.
import { hostFiles } from "../lib/fleet/inventory.ts";
import { isHostName } from "../lib/host_name.ts";

/** One host of the demo fleet, as the test host it deploys to gives it. */
export interface DemoHost {
  name: string;
  address: string;
  port: number;
  user: string;
  /** `ssh-ed25519 AAAA…`: the host's pinned key. */
  hostPublicKey: string;
}

/** What one host's configuration says in a release of the demo fleet. */
export interface DemoSystem {
  /** Goes into the system's name (`nixos-system-web1-2`): a new version is a new generation. */
  version: number;
  /** The version of the demo service every host runs; the closure diff shows it change. */
  appVersion: string;
  /** Whether the system's health check passes once it is active. */
  healthy: boolean;
}

/** The health check every demo host declares: the active system's own check of its service. */
export const DEMO_HEALTH_CHECK = "/run/current-system/bin/demo-health";

/** Seconds a demo host waits for the confirmation before it rolls back by itself. */
export const DEMO_CONFIRM_TIMEOUT = 20;

/** The settings of the demo's own nix calls: given through the environment, nix.conf untouched. */
export const LOCAL_NIX_CONFIG = [
  "experimental-features = nix-command flakes",
  // The demo systems are built by /bin/sh with the machine's coreutils, outside any sandbox,
  // from no inputs: nothing to substitute, no build users needed.
  "sandbox = false",
  "substituters =",
  "build-users-group =",
].join("\n");

/**
 * The nix settings of each test host: root's own nix.conf in the host's private /root, read by
 * the nix commands the deploy runs there. The demo's unsigned builds are accepted unsigned.
 */
export const HOST_NIX_CONFIG = `# nix settings of a demo test host (deno task demo).
${LOCAL_NIX_CONFIG}
require-sigs = false
`;

const FLAKE_NIX =
  `# The demo fleet of \`deno task demo\`: no inputs; each host's "system" is a small stand-in
# with the NixOS shape (bin/switch-to-configuration), built from lib/demo-system.nix.
{
  outputs =
    { self }:
    let
      hosts = import ./lib/hosts.nix;
      index = import ./configurations/nixos-configurations.nix;
      systemOf = name: dir: import ./lib/demo-system.nix {
        inherit name;
        inherit (hosts.\${name}) system;
        configuration = import (dir + "/default.nix");
      };
    in
    {
      inherit hosts;
      nixosConfigurations = builtins.mapAttrs (name: dir: {
        config.system.build.toplevel = systemOf name dir;
      }) index;
    };
}
`;

const HOSTS_NIX = `# Deployment facts of every host: configurations/<host>/deploy.nix for each host
# in the hosts index. Pure data, no inputs: \`nix eval --json -f lib/hosts.nix\`.
let
  index = import ../configurations/nixos-configurations.nix;
in
builtins.mapAttrs (_host: dir: import (dir + "/deploy.nix")) index
`;

// The builders run /bin/sh with the build machine's coreutils: the demo's nix calls turn the
// sandbox off through NIX_CONFIG, so nothing here needs nixpkgs.
const DEMO_SYSTEM_NIX =
  `# A stand-in NixOS system for the demo: a service package (demo-app), and a toplevel
# with bin/switch-to-configuration (points /run/current-system at itself) and bin/demo-health
# (the health check: passes or fails as the host's configuration says).
{ name, system, configuration }:
let
  app = derivation {
    name = "demo-app-\${configuration.appVersion}";
    inherit system;
    builder = "/bin/sh";
    args = [
      "-c"
      ''
        PATH=/usr/bin:/bin
        mkdir -p $out/bin
        printf '#!/bin/sh\\necho "demo-app \${configuration.appVersion}"\\n' > $out/bin/demo-app
        chmod 555 $out/bin/demo-app
      ''
    ];
  };
  health =
    if configuration.healthy then
      ''echo "\${name}: demo-app \${configuration.appVersion} answers"''
    else
      ''echo "\${name}: demo-app \${configuration.appVersion} does not answer" >&2; exit 1'';
in
derivation {
  name = "nixos-system-\${name}-\${toString configuration.version}";
  inherit system app health;
  builder = "/bin/sh";
  args = [
    "-c"
    ''
      PATH=/usr/bin:/bin
      mkdir -p $out/bin
      ln -s $app $out/sw
      printf '%s\\n' "demo-\${toString configuration.version}" > $out/nixos-version
      cat > $out/bin/switch-to-configuration <<EOF
      #!/bin/sh
      # Demo switch-to-configuration: switch and test make this system the active one.
      PATH=/usr/bin:/bin
      case "\\$1" in
        switch|test) ln -sfn $out /run/current-system ;;
        boot|dry-activate) ;;
        *) echo "usage: switch-to-configuration switch|boot|test|dry-activate" >&2; exit 1 ;;
      esac
      EOF
      printf '#!/bin/sh\\n%s\\n' "$health" > $out/bin/demo-health
      chmod 555 $out/bin/switch-to-configuration $out/bin/demo-health
    ''
  ];
}
`;

function nixString(value: string): string {
  return JSON.stringify(value).replaceAll("${", "\\${");
}

function deployNix(host: DemoHost): string {
  return `# Deployment facts of ${host.name} (a demo test host).
{
  deployable = true;
  address = ${nixString(host.address)};
  port = ${host.port};
  user = ${nixString(host.user)};
  tags = [ "demo" ];
  buildOn = "local";
  confirmTimeout = ${DEMO_CONFIRM_TIMEOUT};
  healthChecks = [ ${nixString(DEMO_HEALTH_CHECK)} ];
  system = "x86_64-linux";
}
`;
}

function configurationNix(name: string, system: DemoSystem): string {
  return `# The configuration of ${name} in this release of the demo fleet.
{
  version = ${system.version};
  appVersion = ${nixString(system.appVersion)};
  healthy = ${system.healthy};
}
`;
}

/**
 * The files of the demo fleet repository for `hosts`, each running `systems[host]` (pure).
 * A host without a system is an error: every host of the fleet is deployed.
 */
export function demoFleetTree(
  hosts: readonly DemoHost[],
  systems: Readonly<Record<string, DemoSystem>>,
): Record<string, string> {
  const tree: Record<string, string> = {
    "flake.nix": FLAKE_NIX,
    "lib/hosts.nix": HOSTS_NIX,
    "lib/demo-system.nix": DEMO_SYSTEM_NIX,
  };
  const names = hosts.map((h) => h.name).sort();
  for (const host of hosts) {
    if (!isHostName(host.name)) throw new Error(`Invalid demo host name "${host.name}"`);
    const system = systems[host.name];
    if (system === undefined) throw new Error(`Cannot make demo host "${host.name}": no system`);
    tree[`configurations/${host.name}/deploy.nix`] = deployNix(host);
    tree[`configurations/${host.name}/default.nix`] = configurationNix(host.name, system);
    tree[hostFiles(host.name).publicKey] = `${host.hostPublicKey.trim()}\n`;
  }
  tree["configurations/nixos-configurations.nix"] = [
    "# The hosts index of the demo fleet.",
    "{",
    ...names.map((name) => `  ${name} = ./${name};`),
    "}",
    "",
  ].join("\n");
  return tree;
}

/** Writes `tree` under `dir`, replacing what the files held. */
export async function writeTree(dir: string, tree: Record<string, string>): Promise<void> {
  for (const [path, text] of Object.entries(tree)) {
    const full = `${dir}/${path}`;
    await Deno.mkdir(full.slice(0, full.lastIndexOf("/")), { recursive: true });
    await Deno.writeTextFile(full, text);
  }
}
