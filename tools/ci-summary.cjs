#!/usr/bin/env node
/**
 * CI's closing line, from the counts each Jest project wrote to JEST_RESULTS_DIR
 * (tools/jest-results-reporter.cjs). Exits non-zero when a project did not report, a test failed or
 * a suite did not run, or anything was skipped (CI allows no skip).
 *
 *   node tools/ci-summary.cjs nest-preload demo e2e
 */
const { readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

const dir = process.env.JEST_RESULTS_DIR;
const want = process.argv.slice(2);
if (!dir) {
  console.error('ci-summary: JEST_RESULTS_DIR is not set');
  process.exit(2);
}
const got = new Map(
  readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => [f.slice(0, -'.json'.length), JSON.parse(readFileSync(join(dir, f), 'utf8'))]),
);
const sum = (key) => [...got.values()].reduce((n, r) => n + r[key], 0);
for (const r of got.values()) {
  console.log(
    `== ${r.project}: ${r.passed} passed, ${r.failed} failed, ${r.skipped} skipped${r.suitesThatDidNotRun ? `, ${r.suitesThatDidNotRun} suite(s) did not run` : ''}`,
  );
}
console.log(`tests: ${sum('passed')} passed, ${sum('failed')} failed, ${sum('skipped')} skipped`);
const missing = want.filter((p) => !got.has(p));
let ok = true;
if (missing.length) {
  console.error(`== no results from ${missing.join(', ')}: those tests did not run`);
  ok = false;
}
if (sum('skipped') > 0) {
  console.error('== a test was skipped: CI allows none');
  ok = false;
}
if (sum('failed') > 0 || sum('suitesThatDidNotRun') > 0 || sum('passed') === 0) ok = false;
process.exit(ok ? 0 : 1);
