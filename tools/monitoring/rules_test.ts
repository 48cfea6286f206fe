// The alert rules in monitoring/rules/ checked and unit-tested by the real promtool: Debian's
// (Prometheus 2.42) and a Prometheus 3 promtool (what NixOS 26.05 ships is 3.x; 3.0 changed
// range selection and regex matching), each alert proved to fire and to stay quiet.
import { assert, assertEquals, assertMatch } from "../testing/assert.ts";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { runProgram } from "../testing/run.ts";
import { PROMTOOLS } from "../testing/monitoring.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const RULES_DIR = `${ROOT}monitoring/rules`;
const TESTS_DIR = `${ROOT}monitoring/tests`;

interface Rule {
  alert?: string;
  expr: string;
}
interface RuleFile {
  groups: { name: string; rules: Rule[] }[];
}
interface RuleTest {
  input_series?: { series: string }[];
  alert_rule_test?: {
    alertname: string;
    exp_alerts?: { exp_labels?: Record<string, string> }[];
  }[];
}

async function filesIn(dir: string, suffix: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    if (entry.isFile && entry.name.endsWith(suffix)) names.push(`${dir}/${entry.name}`);
  }
  return names.sort();
}

async function alertNames(): Promise<string[]> {
  const names: string[] = [];
  for (const file of await filesIn(RULES_DIR, ".yml")) {
    const parsed = parseYaml(await Deno.readTextFile(file)) as RuleFile;
    for (const group of parsed.groups) {
      for (const rule of group.rules) if (rule.alert !== undefined) names.push(rule.alert);
    }
  }
  return names;
}

Deno.test("alert rules: promtool check rules passes on both Prometheus generations", async () => {
  const files = await filesIn(RULES_DIR, ".yml");
  assert(files.length > 0, "no rule files in monitoring/rules");
  for (const [label, promtool] of PROMTOOLS) {
    const result = await runProgram([promtool, "check", "rules", ...files]);
    assertEquals(result.code, 0, `${label}: ${result.stdout}${result.stderr}`);
    assertMatch(result.stdout, /SUCCESS: \d+ rules found/);
  }
});

Deno.test("alert rules: promtool test rules passes on both Prometheus generations", async () => {
  const tests = await filesIn(TESTS_DIR, ".test.yml");
  assert(tests.length > 0, "no rule tests in monitoring/tests");
  for (const [label, promtool] of PROMTOOLS) {
    const result = await runProgram([promtool, "test", "rules", ...tests], { cwd: TESTS_DIR });
    assertEquals(result.code, 0, `${label}: ${result.stdout}${result.stderr}`);
  }
});

Deno.test("alert rules: at least 10 alerts, each with a firing case and a quiet case", async () => {
  const alerts = await alertNames();
  assert(alerts.length >= 10, `only ${alerts.length} alerts`);
  const firing = new Set<string>();
  const quiet = new Set<string>();
  for (const file of await filesIn(TESTS_DIR, ".test.yml")) {
    const parsed = parseYaml(await Deno.readTextFile(file)) as { tests: RuleTest[] };
    for (const test of parsed.tests) {
      const hosts = new Set(
        (test.input_series ?? []).flatMap((s) => [...s.series.matchAll(/host="([^"]+)"/g)])
          .map((m) => m[1]!),
      );
      for (const check of test.alert_rule_test ?? []) {
        const expected = check.exp_alerts ?? [];
        if (expected.length > 0) firing.add(check.alertname);
        // Quiet: no alert at that time, or a host in the input that must not fire.
        const firingHosts = new Set(expected.map((a) => a.exp_labels?.host));
        if ([...hosts].some((host) => !firingHosts.has(host))) quiet.add(check.alertname);
      }
    }
  }
  for (const alert of alerts) {
    assert(firing.has(alert), `${alert} has no test where it fires`);
    assert(quiet.has(alert), `${alert} has no test where it stays quiet`);
  }
});

Deno.test("alert rules: every alert's tests fail when its expression never fires", async () => {
  // A test suite that still passes with an alert made inert does not test that alert.
  const tests = await filesIn(TESTS_DIR, ".test.yml");
  const alerts = await alertNames();
  const work = await Deno.makeTempDir({ prefix: "rules-mutant-" });
  try {
    await Deno.mkdir(`${work}/rules`);
    await Deno.mkdir(`${work}/tests`);
    for (const test of tests) {
      await Deno.copyFile(test, `${work}/tests/${test.slice(test.lastIndexOf("/") + 1)}`);
    }
    for (const alert of alerts) {
      for (const file of await filesIn(RULES_DIR, ".yml")) {
        const parsed = parseYaml(await Deno.readTextFile(file)) as RuleFile;
        for (const group of parsed.groups) {
          for (const rule of group.rules) if (rule.alert === alert) rule.expr = "vector(0) > 1";
        }
        await Deno.writeTextFile(
          `${work}/rules/${file.slice(file.lastIndexOf("/") + 1)}`,
          stringifyYaml(parsed),
        );
      }
      const result = await runProgram([
        "promtool",
        "test",
        "rules",
        ...tests.map((t) => `${work}/tests/${t.slice(t.lastIndexOf("/") + 1)}`),
      ], { cwd: `${work}/tests` });
      assert(result.code !== 0, `the tests pass with ${alert} made inert`);
      assertMatch(result.stdout + result.stderr, new RegExp(`alertname: ${alert}\\b`));
    }
  } finally {
    await Deno.remove(work, { recursive: true });
  }
});
