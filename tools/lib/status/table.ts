// The status table: one row per host with its one-line verdict, then one line per host with its
// last deploy. Every value that came from a host (unit names, paths, the record's fields) is
// made printable on one line first (terminal.ts): no escape sequence reaches the terminal raw.
// Colour only when asked (a terminal, and no NO_COLOR).
import { printableLine } from "../terminal.ts";
import {
  type Backup,
  type DeployRecord,
  type Drift,
  formatBytes,
  formatDuration,
  type HostStatus,
  type Reboot,
  verdictLine,
} from "./verdict.ts";

const HEADERS = [
  "HOST",
  "GEN",
  "MADE",
  "SYSTEM",
  "DRIFT",
  "REBOOT",
  "UP",
  "LOAD",
  "FREE /",
  "FREE /nix",
  "BACKUP",
  "VERDICT",
] as const;

/** A store path's name without its hash: `/nix/store/abc…-nixos-system-web1` → `nixos-system-web1`. */
export function storeName(path: string | undefined): string {
  if (path === undefined || path === "") return "-";
  const base = path.split("/").at(-1) ?? path;
  return /^[0-9a-z]{32}-/.test(base) ? base.slice(33) : base;
}

function driftText(d: Drift): string {
  return d.kind === "unknown" ? "unknown" : d.kind;
}

function rebootText(r: Reboot): string {
  if (r.needed === "unknown") return "unknown";
  return r.needed ? `yes (${r.parts.join(",")})` : "no";
}

function backupText(b: Backup): string {
  if (b.kind === "absent") return "-";
  if (b.kind === "never") return "never";
  return `${formatDuration(b.seconds)} ago`;
}

/** `YYYY-MM-DD HH:MM` (UTC) of an ISO date, or `-`. */
function shortDate(iso: string | undefined): string {
  return iso === undefined ? "-" : `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

/** The cells of a host's row (printable, one line each). */
export function rowCells(s: HostStatus): string[] {
  if (s.kind === "unreachable") {
    return [s.host, "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", verdictLine(s)]
      .map(printableLine);
  }
  return [
    s.host,
    s.generation === undefined ? "-" : String(s.generation),
    shortDate(s.generationDate),
    storeName(s.system),
    driftText(s.drift),
    rebootText(s.reboot),
    s.uptimeSeconds === undefined ? "-" : formatDuration(s.uptimeSeconds),
    s.load === undefined ? "-" : s.load.map((n) => n.toFixed(2)).join(" "),
    s.free.root === undefined ? "-" : formatBytes(s.free.root),
    s.free.nix === undefined ? "-" : formatBytes(s.free.nix),
    backupText(s.backup),
    verdictLine(s),
  ].map(printableLine);
}

/** The last deploy in one line: `run … by … at …: gen 3 → 4 (prev → new), confirmed`. */
export function recordLine(r: DeployRecord | undefined): string {
  if (r === undefined) return "no deploy record";
  const gens = r.prevGen !== undefined || r.newGen !== undefined
    ? `gen ${r.prevGen ?? "-"} → ${r.newGen ?? "-"}`
    : "";
  const systems = `${storeName(r.previous)} → ${storeName(r.next)}`;
  const parts = [
    `run ${r.run ?? "?"}`,
    r.by ? `by ${r.by}` : "",
    r.time ? `at ${r.time}` : "",
    r.mode ? `(${r.mode})` : "",
  ].filter(Boolean).join(" ");
  return printableLine(`${parts}: ${[gens, systems].filter(Boolean).join(", ")}: ${r.status}`);
}

/** Colours for the verdict column (ANSI SGR); none: plain text. */
export interface TableStyle {
  colour: boolean;
}

const GREEN = "\x1b[32m";
const RED = "\x1b[31m";
const RESET = "\x1b[0m";

/** The table of `statuses` (a header, a row per host) and each reachable host's last deploy. */
export function statusTable(statuses: readonly HostStatus[], style: TableStyle): string {
  const rows = statuses.map(rowCells);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: readonly string[], paint?: string) =>
    cells.map((c, i) => {
      const last = i === cells.length - 1;
      const text = last ? c : c.padEnd(widths[i]!);
      return last && paint ? `${paint}${text}${RESET}` : text;
    }).join("  ").trimEnd();
  const out = [line(HEADERS)];
  statuses.forEach((s, i) => {
    const healthy = s.kind === "reachable" && s.problems.length === 0;
    out.push(line(rows[i]!, style.colour ? (healthy ? GREEN : RED) : undefined));
  });
  const reachable = statuses.filter((s) => s.kind === "reachable");
  if (reachable.length > 0) {
    out.push("");
    for (const s of reachable) {
      out.push(`${printableLine(s.host)}: last deploy ${recordLine(s.record)}`);
    }
  }
  return out.join("\n");
}
