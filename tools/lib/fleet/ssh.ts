// One pinned SSH connection to a fleet host: the options every tool's ssh gets (the
// repository's known_hosts only, never trust on first use, keys per host name), the shared
// master connection, and why a connection failed, as a typed union. Pure: argv and text in,
// argv and values out; running them is the caller's runner.
import { formatCommand } from "../quote.ts";
import { hostFiles } from "./inventory.ts";

/** A host reached over SSH: its name (the known_hosts key, `HostKeyAlias`) and where it is. */
export interface SshTarget {
  /** The host's name: its known_hosts lines are filed under it, never under its address. */
  host: string;
  address: string;
  port: number;
  user: string;
}

/** How a tool's SSH connections are made. */
export interface SshContext {
  /** The pinned known_hosts file (no whitespace in the path: NIX_SSHOPTS splits on it). */
  knownHostsFile: string;
  /** Extra `Key=Value` options, after ours: they cannot weaken the pinning (ssh keeps the first value). */
  extraOptions: readonly string[];
  /** Seconds before a connection attempt gives up (ssh's ConnectTimeout). */
  connectTimeout: number;
  /**
   * Folder for per-host control sockets: commands on the "shared" connection go through one
   * master (see {@linkcode masterArgv}); unset, every command opens its own.
   */
  controlDir?: string;
}

/** Which connection a command uses: the host's shared one, or a new one of its own. */
export type Connection = "shared" | "new";

/** The control socket of a host's shared connection (see {@linkcode socketName}). */
export function controlPath(target: SshTarget, ctx: SshContext): string | undefined {
  return ctx.controlDir === undefined ? undefined : `${ctx.controlDir}/${socketName(target.host)}`;
}

/**
 * The file name of a host's control socket: short whatever the host name's length. A unix
 * socket's path has room for 107 bytes, and while ssh sets the master up it adds a
 * `.<16 random characters>` suffix; a 63-character host name would not fit. Names up to 20
 * characters are kept (readable); longer ones become their first 12 characters and a hash.
 */
export function socketName(host: string): string {
  const short = host.length <= 20 ? host : `${host.slice(0, 12)}-${fnv1a(host)}`;
  return `${short}.sock`;
}

/** FNV-1a (32 bits) of a string's UTF-16 units, as 8 hex digits. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash.toString(16).padStart(8, "0");
}

/**
 * The ssh options of every connection: the pinned known_hosts only, strict checking (never
 * trust on first use), Ed25519 host keys only (the kind the repository pins), no password
 * prompts, keepalives that notice a dead link, and never a connection of the user's own
 * multiplexing: "shared" commands go through the tool's own master connection of the host
 * (ssh connects directly when the master is gone), "new" ones open a connection of their own.
 * `HostKeyAlias` makes the host's name, not its address, the known_hosts key: two hosts
 * sharing an address (or one address reused by another machine) are each checked against
 * their own key. The caller's extra options come last: ssh keeps the first value it reads.
 */
export function sshOptions(
  target: SshTarget,
  ctx: SshContext,
  connection: Connection = "shared",
): string[] {
  const socket = connection === "shared" ? controlPath(target, ctx) : undefined;
  const options = [
    `UserKnownHostsFile=${ctx.knownHostsFile}`,
    "GlobalKnownHostsFile=/dev/null",
    `HostKeyAlias=${target.host}`,
    "CheckHostIP=no",
    "StrictHostKeyChecking=yes",
    "UpdateHostKeys=no",
    "HostKeyAlgorithms=ssh-ed25519",
    "BatchMode=yes",
    "ControlMaster=no",
    `ControlPath=${socket ?? "none"}`,
    `ConnectTimeout=${ctx.connectTimeout}`,
    "ServerAliveInterval=5",
    "ServerAliveCountMax=3",
    ...ctx.extraOptions,
  ];
  return ["-p", String(target.port), ...options.flatMap((o) => ["-o", o])];
}

/** `user@address` (addresses are validated, see inventory.ts: no leading '-', no spaces). */
export function sshDestination(target: SshTarget): string {
  return `${target.user}@${target.address}`;
}

/** `ssh … -- user@address <remote command>`, over the shared connection or a new one. */
export function sshArgv(
  target: SshTarget,
  ctx: SshContext,
  remoteCommand: string,
  connection: Connection = "shared",
): string[] {
  // `--`: nothing after it (destination, command) can ever be read as an ssh option.
  return [
    "ssh",
    ...sshOptions(target, ctx, connection),
    "--",
    sshDestination(target),
    remoteCommand,
  ];
}

/** {@linkcode sshArgv} of a command given as words (each quoted for the remote shell). */
export function sshExecArgv(
  target: SshTarget,
  ctx: SshContext,
  command: readonly string[],
  connection: Connection = "new",
): string[] {
  return sshArgv(target, ctx, formatCommand(command), connection);
}

/**
 * Opens the host's shared connection in the background (`-M -N -f`; it ends
 * `ControlPersist` seconds after its last use, or at {@linkcode closeMasterArgv}). This is
 * the first contact, so a host key mismatch shows here, before anything is copied.
 */
export function masterArgv(target: SshTarget, ctx: SshContext, persistSeconds: number): string[] {
  const socket = controlPath(target, ctx);
  if (socket === undefined) throw new Error("Cannot share connections: no control folder");
  const options = sshOptions(target, ctx, "new").map((o) =>
    o === "ControlMaster=no"
      ? "ControlMaster=yes"
      : o === "ControlPath=none"
      ? `ControlPath=${socket}`
      : o
  );
  return [
    "ssh",
    "-M",
    "-N",
    "-f",
    ...options,
    "-o",
    `ControlPersist=${persistSeconds}`,
    "--",
    sshDestination(target),
  ];
}

/** Closes the host's shared connection. */
export function closeMasterArgv(target: SshTarget, ctx: SshContext): string[] {
  return ["ssh", "-O", "exit", ...sshOptions(target, ctx, "shared"), "--", sshDestination(target)];
}

/** Why an ssh connection failed, read from the client's stderr (exit code 255). */
export type SshFailure =
  /** The host presented another key than the pinned one (see {@linkcode hostKeyMismatch}). */
  | { kind: "host-key-mismatch"; detail: string }
  /** Nothing listens on the port (`Connection refused`). */
  | { kind: "refused"; detail: string }
  /** No route, unknown name, reset or closed before the SSH handshake. */
  | { kind: "unreachable"; detail: string }
  /** No answer within ConnectTimeout. */
  | { kind: "timed-out"; detail: string }
  /** The host's key was right, the user's key was not taken. */
  | { kind: "auth"; detail: string }
  | { kind: "other"; detail: string };

/** Classifies an ssh client's stderr. */
export function classifySshFailure(stderr: string): SshFailure {
  const detail = stderr.trim().split("\n").map((l) => l.trim()).filter(Boolean).at(-1) ?? "";
  if (
    /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed|No ED25519 host key is known/i
      .test(stderr)
  ) {
    return { kind: "host-key-mismatch", detail };
  }
  if (/Connection refused/i.test(stderr)) return { kind: "refused", detail };
  if (/timed out/i.test(stderr)) return { kind: "timed-out", detail };
  if (
    /No route to host|Network is unreachable|Connection reset|closed by remote host|Connection closed|kex_exchange_identification|Could not resolve/i
      .test(stderr)
  ) {
    return { kind: "unreachable", detail };
  }
  if (/Permission denied/i.test(stderr)) return { kind: "auth", detail };
  return { kind: "other", detail };
}

/** Whether a failure means the host cannot be reached now (worth another attempt later). */
export function isUnreachable(failure: SshFailure): boolean {
  return failure.kind === "refused" || failure.kind === "unreachable" ||
    failure.kind === "timed-out";
}

/** A host key mismatch, diagnosed: the pinned key's fingerprint and the one the host showed. */
export interface HostKeyMismatch {
  host: string;
  address: string;
  port: number;
  /** `SHA256:…` of the repository's key, or undefined when none is pinned. */
  expected: string | undefined;
  /** `SHA256:…` of what `ssh-keyscan` read from the host, or undefined when it read none. */
  presented: string | undefined;
}

/**
 * The one message of a host key mismatch: what was pinned, what the host presented, and what
 * to do (a reinstalled host's new key belongs in the repository; anything else is refused).
 */
export function hostKeyMismatch(m: HostKeyMismatch): string {
  return `Host key mismatch for "${m.host}" at ${m.address}:${m.port}: expected ${
    m.expected ?? "(none)"
  } (${hostFiles(m.host).publicKey}), the host presented ${
    m.presented ?? "(could not scan)"
  }; if the host was reinstalled, commit its new key, else do not connect`;
}
