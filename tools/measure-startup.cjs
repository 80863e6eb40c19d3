#!/usr/bin/env node
/**
 * Time from launching the built demo until every worker is ready, side by side in one run, for
 * three ways to start: preload off (every worker does the full start-up), serial preload (the
 * workers are forked after the preloader) and pipelined preload (forked while it runs). Modes are
 * interleaved, in a balancedOrder order each round (A B C, B C A, C A B, …), with the page cache's
 * pending writes flushed before every start, for each worker count; each start gets a fresh
 * SQLite database, so every mode does the same migrations and seeding.
 *
 *   npm run measure:startup -- [--count 1000] [--workers 1,2,8] [--rounds 3] [--json out.json]
 *
 * Needs the demo built (npm run build). Prints a Markdown table and the ratios that matter.
 */
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { generateBundle } = require('./gen-bundle.cjs');
const { flag, machine, median, balancedOrder, startDemo } = require('./lib/demo-runner.cjs');

const args = process.argv.slice(2);
const COUNT = Number(flag(args, 'count', '1000'));
const WORKER_COUNTS = flag(args, 'workers', '1,2,8').split(',').map(Number);
const ROUNDS = Number(flag(args, 'rounds', '3'));
const JSON_OUT = flag(args, 'json', null);

const MODES = {
  off: { NEST_PRELOAD: 'false' },
  serial: { NEST_PRELOAD: 'true', PRELOAD_START: 'serial' },
  pipelined: { NEST_PRELOAD: 'true', PRELOAD_START: 'pipelined' },
};

(async () => {
  const bundle = join(mkdtempSync(join(tmpdir(), 'startup-bundle-')), `bundle-${COUNT}.tar.gz`);
  await generateBundle({ count: COUNT, out: bundle });
  const results = {};
  for (const workers of WORKER_COUNTS) {
    results[workers] = Object.fromEntries(Object.keys(MODES).map((m) => [m, []]));
    for (let r = 0; r < ROUNDS; r++) {
      for (const mode of balancedOrder(Object.keys(MODES), r)) {
        const env = MODES[mode];
        const demo = await startDemo(`${mode}-${workers}`, { WORKERS: String(workers), BUNDLE_URLS: bundle, ...env });
        results[workers][mode].push(Math.round(demo.readyMs));
        await demo.stop();
      }
      const last = Object.entries(results[workers])
        .map(([m, xs]) => `${m} ${xs[xs.length - 1]} ms`)
        .join(', ');
      process.stderr.write(`N=${workers} round ${r + 1}/${ROUNDS}: ${last}\n`);
    }
  }
  // Ratios from the pairs of each round (same round, adjacent starts), then the median over rounds.
  const ratio = (workers, a, b) => Number(median(results[workers][a].map((x, i) => x / results[workers][b][i])).toFixed(2));
  const summary = {
    machine: machine(),
    components: COUNT + 24,
    rounds: ROUNDS,
    readyMs: results,
    ratios: Object.fromEntries(
      WORKER_COUNTS.map((n) => [
        n,
        {
          pipelinedOverOff: ratio(n, 'pipelined', 'off'),
          serialOverOff: ratio(n, 'serial', 'off'),
          pipelinedOverSerial: ratio(n, 'pipelined', 'serial'),
        },
      ]),
    ),
  };
  console.log(
    '| workers | preload off (ms) | serial preload (ms) | pipelined preload (ms) | pipelined ÷ off | serial ÷ off | pipelined ÷ serial |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const n of WORKER_COUNTS) {
    const cell = (m) => `${median(results[n][m])} (${Math.min(...results[n][m])}–${Math.max(...results[n][m])})`;
    const q = summary.ratios[n];
    console.log(
      `| ${n} | ${cell('off')} | ${cell('serial')} | ${cell('pipelined')} | ${q.pipelinedOverOff} | ${q.serialOverOff} | ${q.pipelinedOverSerial} |`,
    );
  }
  console.log(
    `\nmedian (min–max) time from launch until every worker is ready; ${summary.components} components, ${ROUNDS} interleaved rounds, ${summary.machine.cores} cores, Node ${summary.machine.node}`,
  );
  if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(summary, null, 2));
  rmSync(join(bundle, '..'), { recursive: true, force: true });
})().catch((error) => {
  console.error(`measure-startup: ${error.message}`);
  process.exit(1);
});
