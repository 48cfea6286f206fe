// The real monitoring programs for tests: Debian's promtool (Prometheus 2.42) and a
// Prometheus 3 promtool built from its Go module by install_test_programs.sh (NixOS 26.05
// ships Prometheus 3), amtool, and the configuration files the NixOS modules would write.

/** Built by tools/testing/install_test_programs.sh from the Prometheus Go module. */
export const PROMTOOL3 = "/usr/local/lib/promtool3/promtool";

/** Each promtool the rules and configurations must satisfy, with a label for messages. */
export const PROMTOOLS: readonly (readonly [label: string, program: string])[] = [
  ["promtool 2.x (Debian)", "promtool"],
  ["promtool 3.x", PROMTOOL3],
];

/** A value with null attributes left out, as nixpkgs' Prometheus module writes its file. */
export function withoutNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutNulls);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(
      Object.entries(value).filter(([, v]) => v !== null).map(([k, v]) => [k, withoutNulls(v)]),
    );
  }
  return value;
}

/** prometheus.yml as nixpkgs' module builds it from services.prometheus' options. */
export function prometheusConfig(options: {
  scrapeConfigs: unknown[];
  ruleFiles: string[];
  alertmanagers: unknown[];
}): Record<string, unknown> {
  return {
    global: {},
    scrape_configs: withoutNulls(options.scrapeConfigs),
    rule_files: options.ruleFiles,
    alerting: { alertmanagers: withoutNulls(options.alertmanagers) },
  };
}
