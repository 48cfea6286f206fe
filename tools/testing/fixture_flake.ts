// Fixture flakes for tests: the real flake's output shape (hosts facts, NixOS toplevels) with no
// inputs, so the real nix evaluates and builds them in milliseconds. Imported by tests only.
import { createTempRepo, type TempRepo } from "./temp_repo.ts";

/** Deploy facts of one host, as the real flake's `hosts.<name>` output gives them. */
export interface HostFacts {
  deployable: boolean;
  address: string;
  port: number;
  user: string;
  tags: string[];
  buildOn: "local" | "remote";
  /** Seconds the target waits for the deployer's confirmation before it rolls back. */
  confirmTimeout: number;
  /** Shell commands run on the host after activation; each must exit 0. */
  healthChecks: string[];
  /** Seconds switch-to-configuration may run (deploy's default when unset). */
  activationTimeout?: number;
  /** Seconds each health check may run (deploy's default when unset). */
  healthCheckTimeout?: number;
  /** Seconds `nix copy` to the host may run (deploy's default when unset). */
  copyTimeout?: number;
  system: string;
}

/** What a host's fixture toplevel does; every field changes the toplevel's store path. */
export interface ToplevelOptions {
  /** Any string; a new marker gives a new system ("generation") to deploy. Default "1". */
  marker?: string;
  /** `switch-to-configuration switch|test` exits 4 (after recording the attempt). */
  failActivation?: boolean;
  /** Seconds `switch-to-configuration` sleeps before it activates (default 0). */
  activationSeconds?: number;
  /**
   * Units that `switch` and `test` mark failed (appended to FIXTURE_STATE.failedUnits), as a
   * system whose services fail would. The toplevel's `sw/bin/systemctl` stand-in reports them.
   */
  failUnits?: string[];
  /**
   * A system that uses the real systemd (systemd test hosts, systemd_hosts.ts): its
   * `sw/bin/systemctl` is the machine's own, and `switch`/`test` install these units as
   * runtime units (links in /run/systemd/system), reload systemd, stop the units of the old
   * system it lacks, restart the ones whose file changed, start new ones, and exit 4 when one
   * failed to start, as NixOS does. See {@linkcode FixtureUnit}.
   */
  units?: Record<string, FixtureUnit>;
  /**
   * A kernel: the toplevel gets `kernel`, `initrd` and `kernel-modules` links into a store path
   * named after it, as a NixOS toplevel has; another kernel is a system that needs a reboot.
   * Unset: no such links.
   */
  kernel?: string;
}

/**
 * How a fixture unit behaves: `ok` starts and stays active; `fail` fails to start; `fail-later`
 * starts, then fails 3 s later; `hang` never finishes starting; `stop-sshd` stops ssh.service
 * when it starts (sshd is back when the unit is stopped: a rollback heals it).
 */
export type FixtureUnit = "ok" | "fail" | "fail-later" | "hang" | "stop-sshd";

/** One host of a fixture flake. */
export interface FixtureHost {
  name: string;
  /** Facts that differ from the defaults ({@linkcode defaultHostFacts}). */
  facts?: Partial<HostFacts>;
  toplevel?: ToplevelOptions;
  /** `ssh-ed25519 AAAA…`: written to `configurations/<name>/ssh_host_ed25519_key.pub`. */
  hostPublicKey?: string;
  /** Names of the host's sops-nix secrets: `config.sops.secrets.<name>.path` is `/run/secrets/<name>`. */
  secrets?: string[];
  /** Size in bytes of `config.system.build.isoImage`'s `iso/nixos-<name>.iso` (default 1 MiB). */
  isoBytes?: number;
}

/** The state file paths (on the target) that the fixture's switch-to-configuration writes. */
export const FIXTURE_STATE = {
  /** One line per call: `<action> <toplevel>`, appended before the action runs. */
  activations: "/nix/var/fixture/activations",
  /** The toplevel that the last successful `switch` or `test` activated. */
  currentSystem: "/nix/var/fixture/current-system",
  /** Points at the active toplevel, as on NixOS; set by `switch` and `test`. */
  runCurrentSystem: "/run/current-system",
  /**
   * The failed units, one per line, that the toplevel's `sw/bin/systemctl` stand-in reports
   * (test hosts have no systemd): tests write it to give a host old failures.
   */
  failedUnits: "/nix/var/fixture/failed-units",
  /**
   * While this file exists, the stand-in's `list-units` hangs, as a systemctl on a stuck manager
   * does: tests create it to hang the built-in unit check of whatever system is active.
   */
  hangListUnits: "/nix/var/fixture/hang-list-units",
} as const;

/** Default facts for a host named `name` (address 127.0.0.2, port 22, root). */
export function defaultHostFacts(): HostFacts {
  return {
    deployable: true,
    address: "127.0.0.2",
    port: 22,
    user: "root",
    tags: [],
    buildOn: "local",
    confirmTimeout: 30,
    healthChecks: [],
    system: "x86_64-linux",
  };
}

const FLAKE_NIX =
  `# Fixture flake for tests: the real flake's output shape with no inputs, built in milliseconds.
{
  outputs = { self }:
    let
      fixture = builtins.fromJSON (builtins.readFile ./fixture.json);
      # A dependency of the toplevel that stays the same across markers, so a closure has
      # more than one path and a new generation shares a path with the old one.
      etc = name: host: derivation {
        name = "nixos-etc-\${name}";
        system = host.facts.system;
        builder = "/bin/sh";
        args = [ "-c" "echo \${name} > $out" ];
      };
      # A stand-in for a NixOS system: bin/switch-to-configuration and nixos-version.
      toplevel = name: host: derivation ({
        name = "nixos-system-\${name}-\${host.toplevel.marker}";
        system = host.facts.system;
        builder = "/bin/sh";
        args = [ ./toplevel-builder.sh ];
        hostName = name;
        etc = etc name host;
        inherit (host.toplevel) marker activationSeconds;
        failActivation = if host.toplevel.failActivation then "1" else "";
        failUnits = builtins.concatStringsSep " " host.toplevel.failUnits;
        units = host.toplevel.units;
      } // (if host.toplevel.kernel == "" then { } else {
        # kernel, initrd and kernel-modules of the system, in a store path of their own.
        boot = derivation {
          name = "linux-\${host.toplevel.kernel}";
          system = host.facts.system;
          builder = "/bin/sh";
          args = [ "-c" "PATH=/usr/bin:/bin; mkdir -p $out/lib/modules; echo \${host.toplevel.kernel} > $out/bzImage; echo \${host.toplevel.kernel} > $out/initrd" ];
        };
      }));
      # A stand-in for an installer image: iso/nixos-<name>.iso of the given size.
      isoImage = name: host: derivation {
        name = "nixos-\${name}.iso";
        system = host.facts.system;
        builder = "/bin/sh";
        args = [ "-c" "PATH=/usr/bin:/bin; mkdir -p $out/iso; { echo \${name}; head -c \${toString host.isoBytes} /dev/zero; } | head -c \${toString host.isoBytes} > $out/iso/nixos-\${name}.iso" ];
      };
    in
    {
      hosts = builtins.mapAttrs (name: host: host.facts) fixture.hosts;
      nixosConfigurations = builtins.mapAttrs (name: host: {
        config.system.build.toplevel = toplevel name host;
        config.system.build.isoImage = isoImage name host;
        config.sops.secrets = builtins.listToAttrs (map (secret: {
          name = secret;
          value.path = "/run/secrets/\${secret}";
        }) host.secrets);
      }) fixture.hosts;
    };
}
`;

// Runs as the derivation's builder: only /bin/sh builtins and coreutils from the build machine.
const TOPLEVEL_BUILDER =
  `# Builds a fixture toplevel: $out/bin/switch-to-configuration and $out/nixos-version.
set -eu
PATH=/usr/bin:/bin
mkdir -p "$out/bin"
printf '%s\\n' "fixture-$marker" > "$out/nixos-version"
printf '%s\\n' "$hostName" > "$out/hostname"
if [ -n "\${boot:-}" ]; then
  ln -s "$boot/bzImage" "$out/kernel"
  ln -s "$boot/initrd" "$out/initrd"
  ln -s "$boot/lib" "$out/kernel-modules"
fi
if [ -n "$units" ]; then
  # A system on the real systemd: its units, and the machine's own systemctl.
  mkdir -p "$out/etc/systemd/system"
  ln -s "$etc" "$out/etc/base"
  for spec in $units; do
    [ "$spec" = - ] && continue
    unit=\${spec%%:*} how=\${spec#*:}
    case $how in
      ok) body="Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/echo $unit up" ;;
      fail) body="Type=oneshot
ExecStart=/bin/sh -c 'echo $unit fails; exit 3'" ;;
      fail-later) body="Type=simple
ExecStart=/bin/sh -c 'echo $unit up; sleep 3; echo $unit fails; exit 3'" ;;
      hang) body="Type=oneshot
TimeoutStartSec=infinity
ExecStart=/bin/sleep infinity" ;;
      stop-sshd) body="Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/systemctl --no-block stop ssh.service
ExecStop=/bin/systemctl --no-block start ssh.service" ;;
      *) echo "unknown unit behaviour: $spec" >&2; exit 1 ;;
    esac
    printf '[Unit]\\nDescription=fixture unit %s (%s)\\n\\n[Service]\\n%s\\n' "$unit" "$how" "$body" \\
      > "$out/etc/systemd/system/$unit"
  done
else
  ln -s "$etc" "$out/etc"
fi
cat > "$out/bin/switch-to-configuration" <<EOF
#!/bin/sh
# Fixture switch-to-configuration: records each call where a test can read it on the host.
PATH=/usr/bin:/bin
action="\\\${1:-}"
toplevel="$out"
state=/nix/var/fixture
case "\\$action" in
  switch|boot|test|dry-activate) ;;
  *) echo "usage: switch-to-configuration switch|boot|test|dry-activate" >&2; exit 1 ;;
esac
mkdir -p "\\$state"
echo "\\$action \\$toplevel" >> "\\$state/activations"
[ "\\$action" = dry-activate ] && exit 0
[ "\\$action" = boot ] && exit 0
sleep $activationSeconds
if [ -n "$failActivation" ]; then
  echo "fixture: activating \\$toplevel failed (failActivation)" >&2
  exit 4
fi
for unit in $failUnits; do echo "\\$unit" >> "\\$state/failed-units"; done
echo "\\$toplevel" > "\\$state/current-system.tmp"
mv "\\$state/current-system.tmp" "\\$state/current-system"
mkdir -p /run
ln -sfn "\\$toplevel" /run/current-system
EOF
if [ -n "$units" ]; then
  cat >> "$out/bin/switch-to-configuration" <<'EOF'
# On the real systemd: the units, as NixOS's switch-to-configuration handles them.
units="$toplevel/etc/systemd/system" run=/run/systemd/system
mkdir -p "$run"
stop= restart= start= failed=
for link in "$run"/*; do
  [ -L "$link" ] || continue
  case $(readlink "$link") in /nix/store/*) ;; *) continue ;; esac
  name=\${link##*/}
  [ -e "$units/$name" ] && continue
  stop="$stop $name"
done
[ -n "$stop" ] && echo "stopping the following units:$stop" >&2 && systemctl stop -- $stop
for name in $stop; do rm -f "$run/$name"; done
for unit in "$units"/*; do
  [ -e "$unit" ] || continue
  name=\${unit##*/}
  if [ ! -L "$run/$name" ]; then start="$start $name"
  elif ! cmp -s "$run/$name" "$unit"; then restart="$restart $name"; fi
  ln -sfn "$unit" "$run/$name"
done
systemctl daemon-reload
# One line per action, the units joined by ", " as NixOS prints them (the deploy's check reads it).
[ -n "$restart" ] && echo "restarting the following units: $(echo $restart | sed 's/ /, /g')" >&2
for name in $restart; do
  systemctl restart -- "$name" || failed="$failed $name"
done
[ -n "$start" ] && echo "starting the following units: $(echo $start | sed 's/ /, /g')" >&2
for name in $start; do
  systemctl start -- "$name" || failed="$failed $name"
done
if [ -n "$failed" ]; then echo "warning: the following units failed:$failed" >&2; exit 4; fi
EOF
fi
chmod 555 "$out/bin/switch-to-configuration"
if [ -n "$units" ]; then
  mkdir -p "$out/sw/bin"
  ln -s /usr/bin/systemctl "$out/sw/bin/systemctl"
  exit 0
fi
# A systemctl stand-in (test hosts have no systemd): reports the units listed in a file.
mkdir -p "$out/sw/bin"
cat > "$out/sw/bin/systemctl" <<'SYSTEMCTL'
#!/bin/sh
# Fixture systemctl: the failed units are the lines of /nix/var/fixture/failed-units.
PATH=/usr/bin:/bin
failed=/nix/var/fixture/failed-units
case "$1" in
  is-system-running)
    if [ -s "$failed" ]; then echo degraded; exit 1; fi
    echo running ;;
  list-units)
    [ -e /nix/var/fixture/hang-list-units ] && exec sleep 600
    if [ -f "$failed" ]; then
      while read -r unit; do [ -n "$unit" ] && echo "$unit loaded failed failed $unit"; done < "$failed"
    fi ;;
  *) echo "fixture systemctl: $1 is not supported" >&2; exit 1 ;;
esac
SYSTEMCTL
chmod 555 "$out/sw/bin/systemctl"
`;

/** The fixture.json the flake reads: facts and toplevel options per host. */
export function fixtureJson(hosts: readonly FixtureHost[]): string {
  const entries = hosts.map((host) => [host.name, {
    facts: { ...defaultHostFacts(), ...host.facts },
    toplevel: {
      marker: host.toplevel?.marker ?? "1",
      failActivation: host.toplevel?.failActivation ?? false,
      activationSeconds: String(host.toplevel?.activationSeconds ?? 0),
      failUnits: host.toplevel?.failUnits ?? [],
      kernel: host.toplevel?.kernel ?? "",
      // "": no systemd; else `<unit>:<behaviour>` words ("-": none).
      units: host.toplevel?.units === undefined
        ? ""
        : Object.entries(host.toplevel.units).map(([unit, how]) => `${unit}:${how}`).join(" ") ||
          "-",
    },
    secrets: host.secrets ?? [],
    isoBytes: host.isoBytes ?? 1024 * 1024,
  }]);
  return `${JSON.stringify({ hosts: Object.fromEntries(entries) }, null, 2)}\n`;
}

/** What {@linkcode fixtureHostsFor} needs of a host (a `TestHost` has it). */
export interface ReachableHost {
  name: string;
  address: string;
  port: number;
  user: string;
  hostPublicKey: string;
}

/** Fixture hosts whose facts and host keys point at running hosts (e.g. test hosts). */
export function fixtureHostsFor(
  hosts: readonly ReachableHost[],
  facts: Partial<HostFacts> = {},
): FixtureHost[] {
  return hosts.map((host) => ({
    name: host.name,
    facts: { ...facts, address: host.address, port: host.port, user: host.user },
    hostPublicKey: host.hostPublicKey,
  }));
}

/** The files of a fixture flake for `hosts` (pure; see {@linkcode createFixtureFlake}). */
export function fixtureFlakeTree(hosts: readonly FixtureHost[]): Record<string, string> {
  const names = new Set<string>();
  for (const host of hosts) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(host.name)) {
      throw new Error(`Cannot make fixture host "${host.name}": not a valid host name`);
    }
    if (names.has(host.name)) {
      throw new Error(`Cannot make fixture host "${host.name}": the name is used twice`);
    }
    names.add(host.name);
  }
  const tree: Record<string, string> = {
    "flake.nix": FLAKE_NIX,
    "toplevel-builder.sh": TOPLEVEL_BUILDER,
    "fixture.json": fixtureJson(hosts),
  };
  for (const host of hosts) {
    tree[`configurations/${host.name}/default.nix`] = `# Fixture host ${host.name}.\n{ }\n`;
    if (host.hostPublicKey !== undefined) {
      tree[`configurations/${host.name}/ssh_host_ed25519_key.pub`] =
        `${host.hostPublicKey.trim()}\n`;
    }
  }
  return tree;
}

/** A fixture flake in a temporary git repository; dispose it to delete it. */
export interface FixtureFlake extends TempRepo {
  /** The hosts as they are now (after any {@linkcode FixtureFlake.update}). */
  readonly hosts: readonly FixtureHost[];
  /** Flake reference of the toplevel: `<dir>#nixosConfigurations.<host>.config.system.build.toplevel`. */
  toplevelRef(host: string): string;
  /** Changes hosts (merging facts and toplevel options) and commits, so the flake sees it. */
  update(changes: Record<string, Omit<FixtureHost, "name">>): Promise<void>;
  /** Builds the host's toplevel with the real nix and returns its store path. */
  buildToplevel(host: string): Promise<string>;
}

/** Writes and commits a fixture flake for `hosts` in a new temporary git repository. */
export async function createFixtureFlake(hosts: readonly FixtureHost[]): Promise<FixtureFlake> {
  let current = hosts.map((host) => ({ ...host }));
  const repo = await createTempRepo(fixtureFlakeTree(current));
  const find = (name: string) => {
    const host = current.find((h) => h.name === name);
    if (host === undefined) throw new Error(`Cannot find fixture host "${name}"`);
    return host;
  };
  const toplevelRef = (name: string) => {
    find(name);
    return `${repo.dir}#nixosConfigurations.${name}.config.system.build.toplevel`;
  };
  return {
    ...repo,
    get hosts() {
      return current;
    },
    toplevelRef,
    async update(changes) {
      for (const name of Object.keys(changes)) find(name);
      current = current.map((host) => {
        const change = changes[host.name];
        if (change === undefined) return host;
        const next: FixtureHost = {
          ...host,
          facts: { ...host.facts, ...change.facts },
          toplevel: { ...host.toplevel, ...change.toplevel },
        };
        const key = change.hostPublicKey ?? host.hostPublicKey;
        if (key !== undefined) next.hostPublicKey = key;
        return next;
      });
      await repo.write(fixtureFlakeTree(current));
      await repo.git("add", "-A");
      await repo.git("commit", "-q", "-m", "fixture: update hosts");
    },
    async buildToplevel(name) {
      const output = await new Deno.Command("nix", {
        args: ["build", "--no-link", "--json", toplevelRef(name)],
        stdout: "piped",
        stderr: "piped",
      }).output();
      const decode = (b: Uint8Array) => new TextDecoder().decode(b);
      if (!output.success) {
        throw new Error(`Cannot build the toplevel of "${name}": ${decode(output.stderr).trim()}`);
      }
      const built = JSON.parse(decode(output.stdout)) as { outputs: { out: string } }[];
      const path = built[0]?.outputs.out;
      if (path === undefined) throw new Error(`Cannot build the toplevel of "${name}": no output`);
      return path;
    },
  };
}
