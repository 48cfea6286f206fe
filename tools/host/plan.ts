// The pure plan of `host new`: from the command's options and what the repository already holds,
// the ordered list of steps that scaffold configurations/<host>/, make its key, add it to the
// secrets and regenerate the indexes; and the files' templates. No I/O here (main.ts executes).
import { UsageError } from "../lib/errors.ts";
import { hostNameProblem } from "../lib/host_name.ts";
import { hostAddressProblem } from "../lib/validate.ts";

/** The systems a new host can be (the flake's `systems`; deploy.nix's `system`). */
export const SYSTEMS = ["x86_64-linux", "aarch64-linux"] as const;

/** The profiles a new host can import (modules/nixos/profiles/<profile>.nix). */
export const PROFILES = ["server", "workstation", "devhost"] as const;
/** One of {@linkcode PROFILES}. */
export type Profile = typeof PROFILES[number];

/**
 * The NixOS release the fleet tracks (flake.nix's nixpkgs input, nixos-26.05): a new host's
 * `system.stateVersion`, which stays at this value for the host's whole life.
 */
export const STATE_VERSION = "26.05";

/** Where disko's LUKS layout reads the passphrase at install time (nixos-anywhere puts it there). */
export const DISK_KEY_PATH = "/tmp/disk-encryption.key";

/** Where an unfinished run keeps what it was asked (under .data/, which git ignores). */
export const MARKER_DIR = ".data/host-new";

/** What `host new` was asked for; an unfinished run's marker holds the same. */
export interface HostRequest {
  name: string;
  profile: Profile;
  address: string;
  /** The disk disko partitions, or undefined for no disko layout. */
  disk?: string;
  /** The interface the monitoring host scrapes it on, or undefined: not monitored yet. */
  monitoringInterface?: string;
  system: string;
}

/** The command line of `host new`, before validation. */
export interface HostNewArgs {
  name: string;
  profile?: string;
  address?: string;
  disk?: string;
  monitoringInterface?: string;
  /** One of {@linkcode SYSTEMS}; x86_64-linux when not given. */
  system?: string;
}

/** What the repository holds that the plan depends on (read by the executor). */
export interface RepoFacts {
  /** Hosts in configurations/nixos-configurations.nix. */
  indexedHosts: readonly string[];
  /** Entries of configurations/<name>/ (file names), or undefined when there is no folder. */
  folder?: readonly string[];
  /** The marker of an unfinished run for this name, parsed, if there is one. */
  marker?: HostRequest;
  /** secrets/<name>.yaml exists. */
  secretsFile: boolean;
  /** `.sops.yaml` has an anchor `&host_<name>`. */
  sopsAnchor: boolean;
}

/** The files `host new` writes into configurations/<name>/, by name. */
export type ScaffoldFile = "default.nix" | "deploy.nix" | "disko.nix" | "monitoring.nix";

/** A network interface name as Linux allows it (at most 15 bytes, no '/' or space). */
const INTERFACE_NAME = /^[A-Za-z0-9_.:-]{1,15}$/;

/** One step of `host new`; `--dry-run` prints them, the executor runs them in order. */
export type HostStep =
  /** Record what was asked, so that a killed run is finished by running it again. */
  | { kind: "begin"; path: string; request: HostRequest }
  /** Create a scaffold file; an existing file (an earlier run's, maybe edited since) is kept. */
  | { kind: "create"; path: string; content: string }
  /** Make the host's SSH key in its folder (ignored by git), unless it has one there. */
  | { kind: "host-key"; path: string; comment: string }
  /**
   * Add the host to `.sops.yaml` and create `secrets/<name>.yaml` for the admins and the host
   * (`secrets host add` with the key in place), with a new disk passphrase when `diskKey`.
   */
  | { kind: "secrets"; host: string; keyFile: string; diskKey?: string }
  /** Regenerate the index files (the host and its disko layout join them). */
  | { kind: "index" }
  /** Remove the marker: the host is made. */
  | { kind: "finish"; path: string };

/** The plan: its steps, and whether it finishes an earlier (killed) run. */
export interface HostPlan {
  request: HostRequest;
  resumed: boolean;
  steps: HostStep[];
}

/** A key pair made in the host's folder by `ssh-keygen`, or brought there by a person. */
const KEY_FILES = ["ssh_host_ed25519_key", "ssh_host_ed25519_key.pub"];

/** A device path disko can be given: /dev/…, no `..`, no characters Nix or a shell would read. */
export function diskProblem(disk: string): string | undefined {
  if (!/^\/dev\/[A-Za-z0-9][A-Za-z0-9/_.:+@-]*$/.test(disk)) {
    return "expected a device path under /dev/ (letters, digits, '/', '_', '.', ':', '+', '@', '-'), e.g. /dev/nvme0n1 or /dev/disk/by-id/…";
  }
  if (disk.split("/").includes("..")) return "'..' is not allowed in a device path";
  return undefined;
}

/** Validates the command line: a usage error naming the bad value, or the request. */
export function parseRequest(args: HostNewArgs): HostRequest {
  const nameProblem = hostNameProblem(args.name);
  if (nameProblem !== undefined) {
    throw new UsageError(`Cannot make host "${args.name}": ${nameProblem}`);
  }
  if (args.profile === undefined) {
    throw new UsageError(`Cannot make host "${args.name}": give --profile <${PROFILES.join("|")}>`);
  }
  if (!(PROFILES as readonly string[]).includes(args.profile)) {
    throw new UsageError(
      `Cannot make host "${args.name}": unknown profile "${args.profile}"; use one of ${
        PROFILES.join(", ")
      }`,
    );
  }
  const address = args.address ?? args.name;
  const addressProblem = hostAddressProblem(address);
  if (addressProblem !== undefined) {
    throw new UsageError(
      `Cannot make host "${args.name}": invalid --address "${address}": ${addressProblem}`,
    );
  }
  if (args.disk !== undefined) {
    const problem = diskProblem(args.disk);
    if (problem !== undefined) {
      throw new UsageError(
        `Cannot make host "${args.name}": invalid --disk "${args.disk}": ${problem}`,
      );
    }
  }
  if (args.monitoringInterface !== undefined && !INTERFACE_NAME.test(args.monitoringInterface)) {
    throw new UsageError(
      `Cannot make host "${args.name}": invalid --monitoring-interface "${args.monitoringInterface}": expected an interface name such as enp1s0 or wg0 (letters, digits, '_', '.', ':', '-'; at most 15)`,
    );
  }
  const system = args.system ?? "x86_64-linux";
  if (!(SYSTEMS as readonly string[]).includes(system)) {
    throw new UsageError(
      `Cannot make host "${args.name}": unknown --system "${system}"; use one of ${
        SYSTEMS.join(", ")
      }`,
    );
  }
  return {
    name: args.name,
    profile: args.profile as Profile,
    address,
    ...(args.disk === undefined ? {} : { disk: args.disk }),
    ...(args.monitoringInterface === undefined
      ? {}
      : { monitoringInterface: args.monitoringInterface }),
    system,
  };
}

/** The request in words, as a person would type it. */
export function describeRequest(request: HostRequest): string {
  return `host new ${request.name} --profile ${request.profile}${
    request.address === request.name ? "" : ` --address ${request.address}`
  }${request.disk === undefined ? "" : ` --disk ${request.disk}`}${
    request.monitoringInterface === undefined
      ? ""
      : ` --monitoring-interface ${request.monitoringInterface}`
  }${request.system === "x86_64-linux" ? "" : ` --system ${request.system}`}`;
}

function sameRequest(a: HostRequest, b: HostRequest): boolean {
  return a.name === b.name && a.profile === b.profile && a.address === b.address &&
    a.disk === b.disk && a.monitoringInterface === b.monitoringInterface && a.system === b.system;
}

/**
 * The steps of `host new`. A name in use (indexed, a folder with more than a host key in it, a
 * secrets file or a `.sops.yaml` anchor) is refused unless an unfinished run for the same
 * request left its marker: then the plan finishes that run, keeping every file it made.
 */
export function planHostNew(
  request: HostRequest,
  facts: RepoFacts,
  options: { diskKey?: string } = {},
): HostPlan {
  const { name } = request;
  const dir = `configurations/${name}`;
  const marker = `${MARKER_DIR}/${name}.json`;
  if (facts.marker !== undefined && !sameRequest(facts.marker, request)) {
    throw new Error(
      `Cannot make host "${name}": an unfinished \`${
        describeRequest(facts.marker)
      }\` left ${marker}; run that command again to finish it, or remove ${marker} and ${dir}/ to start over`,
    );
  }
  const resumed = facts.marker !== undefined;
  if (!resumed) {
    const taken = facts.indexedHosts.includes(name)
      ? `it is in configurations/nixos-configurations.nix`
      : (facts.folder ?? []).some((entry) => !KEY_FILES.includes(entry))
      ? `${dir}/ exists`
      : facts.secretsFile
      ? `secrets/${name}.yaml exists`
      : facts.sopsAnchor
      ? `.sops.yaml has &host_${name}`
      : undefined;
    if (taken !== undefined) {
      throw new Error(
        `Cannot make host "${name}": the name is taken (${taken}); pick another name`,
      );
    }
  }
  const files: [ScaffoldFile, string][] = [
    ["default.nix", defaultNix(request)],
    ["deploy.nix", deployNix(request)],
    ["monitoring.nix", monitoringNix(request)],
  ];
  if (request.disk !== undefined) files.push(["disko.nix", diskoNix(request.name, request.disk)]);
  const steps: HostStep[] = [
    { kind: "begin", path: marker, request },
    ...files.map(([file, content]): HostStep => ({
      kind: "create",
      path: `${dir}/${file}`,
      content,
    })),
    { kind: "host-key", path: `${dir}/ssh_host_ed25519_key`, comment: `root@${name}` },
    {
      kind: "secrets",
      host: name,
      keyFile: `${dir}/ssh_host_ed25519_key.pub`,
      ...(request.disk !== undefined && options.diskKey !== undefined
        ? { diskKey: options.diskKey }
        : {}),
    },
    { kind: "index" },
    { kind: "finish", path: marker },
  ];
  return { request, resumed, steps };
}

/** One line per step, for --dry-run and --verbose. */
export function describeStep(step: HostStep): string {
  switch (step.kind) {
    case "begin":
      return `record the request in ${step.path} (git ignores .data/), so a re-run finishes a killed run`;
    case "create":
      return `create ${step.path} (kept if it exists)`;
    case "host-key":
      return `make the host key: ssh-keygen -t ed25519 -N '' -C ${step.comment} -f ${step.path} (kept if it exists; git ignores it)`;
    case "secrets":
      return `secrets host add ${step.host} --key-file ${step.keyFile}: &host_${step.host} and a rule in .sops.yaml, secrets/${step.host}.yaml for the admins and ${step.host}${
        step.diskKey === undefined ? "" : `, holding a new disk passphrase for ${DISK_KEY_PATH}`
      }`;
    case "index":
      return "regenerate the index files (deno task index)";
    case "finish":
      return `remove ${step.path}`;
  }
}

/** What to do next, one command or action per line. */
export function nextSteps(request: HostRequest): string[] {
  const { name } = request;
  const dir = `configurations/${name}`;
  const lines = [
    `git add ${dir} secrets/${name}.yaml .sops.yaml configurations/*.nix   (a flake sees only files git tracks; the private key stays ignored)`,
    `Edit ${dir}/default.nix: the machine's kernel modules (nixos-generate-config --show-hardware-config on it shows them)${
      request.disk === undefined ? " and its file systems" : ""
    }`,
  ];
  if (request.disk === undefined) {
    lines.push(
      `Add ${dir}/disko.nix (or make the host again with --disk): deno task install needs a disk layout`,
    );
  } else {
    lines.push(
      `Check the disk in ${dir}/disko.nix (${request.disk}); the LUKS passphrase asked at boot: sops decrypt --extract '["disk-encryption-keys"]["${DISK_KEY_PATH}"]' secrets/${name}.yaml`,
    );
  }
  if (request.monitoringInterface === undefined) {
    lines.push(
      `Edit ${dir}/monitoring.nix: the interface and address the monitoring host scrapes it on (README, "Observability"); until then it is exempt`,
    );
  }
  if (request.profile === "workstation") {
    lines.push(
      `deno task secrets password admin --host ${name}   (people log in with a password on a workstation)`,
    );
  }
  lines.push(
    `deno task secrets grant secrets/shared.yaml ${name}   (if it reads the shared secrets)`,
    `deno task install ${name} --target <installer address> --host-key ${dir}/ssh_host_ed25519_key --dry-run   (then without --dry-run)`,
    `deno task deploy ${name}   (every later change)`,
  );
  return lines;
}

const PROFILE_WORDS: Record<Profile, string> = {
  server: "headless server",
  workstation: "workstation (desktop, audio, printing)",
  devhost: "development host (server with developer tools and containers)",
};

/** configurations/<name>/default.nix. */
export function defaultNix(request: HostRequest): string {
  const imports = [`modules.profile-${request.profile}`];
  if (request.disk !== undefined) imports.push("./disko.nix");
  const fileSystems = request.disk !== undefined ? "" : `
  # The root file system. Replace it with the machine's own, or add a disko.nix
  # (deno task install needs one; \`host new --disk\` makes it) and import it.
  fileSystems."/" = {
    device = "/dev/disk/by-label/nixos";
    fsType = "ext4";
  };
`;
  return `# ${request.name}: ${PROFILE_WORDS[request.profile]}, made by \`deno task host new\`.
{ ... }:
let
  modules = import ../../modules/nixos/nixos-modules.nix;
in
{
  imports = [
${imports.map((i) => `    ${i}\n`).join("")}  ];

  # Kernel modules the initrd needs to reach the disks: a common set for NVMe,
  # SATA and USB disks. Replace it with the machine's own
  # (\`nixos-generate-config --show-hardware-config\` on the machine).
  boot.initrd.availableKernelModules = [
    "ahci"
    "nvme"
    "sd_mod"
    "usb_storage"
    "xhci_pci"
  ];
  hardware.enableRedistributableFirmware = true;
${fileSystems}
  # The NixOS release this host was first installed with (${STATE_VERSION}, the release
  # the fleet tracks). It is not the version the host runs: it keeps state formats
  # (databases, file layouts) compatible with those it was installed with. Never
  # change it, not even when the fleet moves to a newer release.
  system.stateVersion = "${STATE_VERSION}";
}
`;
}

const PROFILE_TAGS: Record<Profile, string> = {
  server: "server",
  workstation: "workstation",
  devhost: "dev",
};

/** configurations/<name>/deploy.nix. */
export function deployNix(request: HostRequest): string {
  return `# Deployment facts of ${request.name} (made by \`deno task host new\`).
{
  deployable = true;
  address = "${request.address}";
  port = 22;
  user = "root";
  tags = [ "${PROFILE_TAGS[request.profile]}" ];
  buildOn = "${request.system === "aarch64-linux" ? "remote" : "local"}";${
    request.system === "aarch64-linux"
      ? "\n  # An ARM machine builds its own system: this machine may not build for aarch64-linux."
      : ""
  }
  confirmTimeout = 30;
  # Every deploy also checks that no systemd unit failed since its activation.
  healthChecks = [ ];
  system = "${request.system}";
}
`;
}

/** configurations/<name>/monitoring.nix: where the monitoring host scrapes it, or why not. */
export function monitoringNix(request: HostRequest): string {
  if (request.monitoringInterface === undefined) {
    return `# Monitoring facts of ${request.name} (made by \`deno task host new\`; read by lib/monitoring.nix).
# Not scraped yet: replace this with the interface and address the monitoring host reaches,
#   { interface = "enp1s0"; address = "192.0.2.30"; presence = "always"; }
# (README, "Observability").
{
  exempt = "not yet placed on the monitoring network";
}
`;
  }
  const presence = request.profile === "workstation" ? "intermittent" : "always";
  return `# Monitoring facts of ${request.name} (made by \`deno task host new\`; read by lib/monitoring.nix):
# the exporters listen on \`address\` and open their ports on \`interface\` only.
{
  interface = "${request.monitoringInterface}";
  address = "${request.address}";
  # "intermittent": often off or away (a workstation), its absence raises no HostDown.
  presence = "${presence}";
}
`;
}

/**
 * configurations/<name>/disko.nix: desk1's layout (configurations/desk1/disko.nix) on `disk`,
 * without its swap file (the common profile has zram swap): EFI system partition, btrfs
 * subvolumes on LUKS. The options are disko's (snapshot 878ec37, lib/types/: disk.nix `device`,
 * gpt.nix `partitions.<name>.size`/`type`, filesystem.nix `format`/`mountpoint`/`mountOptions`,
 * luks.nix `name`/`passwordFile`/`settings`, btrfs.nix `extraArgs`/`subvolumes`).
 */
export function diskoNix(name: string, disk: string): string {
  const subvolume = (path: string, mountpoint: string) =>
    `                "${path}" = {
                  mountpoint = "${mountpoint}";
                  mountOptions = [
                    "compress=zstd"
                    "noatime"
                  ];
                };
`;
  return `# Disk layout of ${name} (made by \`deno task host new\`): one disk, EFI system
# partition and btrfs subvolumes on LUKS. nixos-anywhere sets the passphrase from
# ${DISK_KEY_PATH} at install time (its value is in secrets/${name}.yaml under
# disk-encryption-keys); it is asked for at boot.
{
  disko.devices.disk.main = {
    type = "disk";
    device = "${disk}";
    content = {
      type = "gpt";
      partitions = {
        ESP = {
          size = "1G";
          type = "EF00";
          content = {
            type = "filesystem";
            format = "vfat";
            mountpoint = "/boot";
            mountOptions = [ "umask=0077" ];
          };
        };
        luks = {
          size = "100%";
          content = {
            type = "luks";
            name = "cryptroot";
            passwordFile = "${DISK_KEY_PATH}";
            settings.allowDiscards = true;
            content = {
              type = "btrfs";
              extraArgs = [ "-f" ];
              subvolumes = {
${subvolume("/root", "/")}${subvolume("/home", "/home")}${subvolume("/nix", "/nix")}              };
            };
          };
        };
      };
    };
  };
}
`;
}
