// The update report: a table for people (package, old → new, result) and the JSON form.
import { describeResult, type PackageReport } from "./execute.ts";

/**
 * Exit code: 1 when a package failed, or (with failIfOutdated) when one is outdated or its
 * upstream offers no version the tool can read (`unknown`: it may be outdated).
 */
export function exitCodeOf(reports: readonly PackageReport[], failIfOutdated: boolean): number {
  if (reports.some((r) => r.result.kind === "failed")) return 1;
  if (
    failIfOutdated &&
    reports.some((r) => r.result.kind === "outdated" || r.result.kind === "unknown")
  ) return 1;
  return 0;
}

function versions(report: PackageReport): string {
  const r = report.result;
  switch (r.kind) {
    case "up-to-date":
    case "unknown":
      return r.version;
    case "ahead":
      return `${r.version} (upstream ${r.newest})`;
    case "skipped":
      return "";
    case "failed":
      return r.from !== undefined && r.to !== undefined ? `${r.from} -> ${r.to}` : r.from ?? "";
    default:
      return `${r.from} -> ${r.to}`;
  }
}

/** The summary table; the result column last so long messages do not stretch it. */
export function reportTable(reports: readonly PackageReport[]): string {
  const rows = [
    ["package", "version", "result"],
    ...reports.map((r) => [r.name, versions(r), describeResult(r.result)]),
  ];
  const widths = [0, 1].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  const table = rows.map((row) =>
    `${row[0]!.padEnd(widths[0]!)}  ${row[1]!.padEnd(widths[1]!)}  ${row[2]}`.trimEnd()
  );
  // What changed upstream: the compare or release page of each move, as the commit names it.
  const links = reports.flatMap((r) =>
    "changelogUrl" in r.result && r.result.changelogUrl !== undefined
      ? [`  ${r.name}: ${r.result.changelogUrl}`]
      : []
  );
  return [...table, ...(links.length > 0 ? ["", "changes:", ...links] : [])].join("\n");
}

/** The JSON report. */
export function reportJson(reports: readonly PackageReport[]): unknown {
  return { packages: reports.map((r) => ({ name: r.name, file: r.file, ...r.result })) };
}
