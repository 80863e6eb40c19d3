#!/usr/bin/env node
/**
 * Per-worker memory (PSS, from /proc/PID/smaps_rollup) of the built demo, side by side in one run:
 *   preload  — K generated components + the built-in library, preload on
 *   off      — the same components, preload off (every worker imports and indexes them itself)
 *   floor    — no components at all (built-in library off, no bundle), preload on
 * Modes are interleaved in a balancedOrder order each round (A B C, B C A, …) so machine drift and
 * order effects hit all of them; each worker is warmed
 * with requests before it is measured.
 *
 *   npm run measure:pss -- [--count 1000] [--workers 4] [--rounds 3] [--json out.json]
 *
 * Needs the demo built (npm run build). Prints a Markdown table; --json also writes the raw figures.
 */
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { generateBundle } = require('./gen-bundle.cjs');
const { childrenOf, flag, get, machine, median, pssKb, balancedOrder, startDemo } = require('./lib/demo-runner.cjs');

const args = process.argv.slice(2);
const COUNT = Number(flag(args, 'count', '1000'));
const WORKERS = Number(flag(args, 'workers', '4'));
const ROUNDS = Number(flag(args, 'rounds', '3'));
const JSON_OUT = flag(args, 'json', null);

async function runMode(mode, env) {
  const demo = await startDemo(mode, { WORKERS: String(WORKERS), ...env });
  try {
    // Warm every worker the same way in every mode: the index and the health endpoint, several times each.
    for (let i = 0; i < WORKERS * 6; i++) {
      await get(demo.port, '/api/v1/all');
      await get(demo.port, '/health/preload');
    }
    await new Promise((r) => setTimeout(r, 1_000));
    return {
      mode,
      primaryKb: pssKb(demo.pid),
      workersKb: childrenOf(demo.pid)
        .map(pssKb)
        .sort((a, b) => a - b),
    };
  } finally {
    await demo.stop();
  }
}

const mb = (kb) => (kb / 1024).toFixed(1);

(async () => {
  const bundle = join(mkdtempSync(join(tmpdir(), 'pss-bundle-')), `bundle-${COUNT}.tar.gz`);
  await generateBundle({ count: COUNT, out: bundle });
  const modes = {
    preload: { NEST_PRELOAD: 'true', BUNDLE_URLS: bundle },
    off: { NEST_PRELOAD: 'false', BUNDLE_URLS: bundle },
    floor: { NEST_PRELOAD: 'true', BUILTIN_COMPONENTS: 'false' },
  };
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const round = {};
    for (const mode of balancedOrder(Object.keys(modes), r)) round[mode] = await runMode(mode, modes[mode]);
    rounds.push(round);
    process.stderr.write(
      `round ${r + 1}/${ROUNDS}: median worker PSS preload ${mb(median(round.preload.workersKb))} MB, off ${mb(median(round.off.workersKb))} MB, floor ${mb(median(round.floor.workersKb))} MB\n`,
    );
  }
  const all = (mode) => rounds.flatMap((r) => r[mode].workersKb);
  const perRound = (fn) => rounds.map(fn);
  const summary = {
    machine: machine(),
    components: COUNT + 24,
    workers: WORKERS,
    rounds: ROUNDS,
    medianWorkerMb: Object.fromEntries(Object.keys(modes).map((m) => [m, Number(mb(median(all(m))))])),
    minMaxWorkerMb: Object.fromEntries(
      Object.keys(modes).map((m) => [m, [Number(mb(Math.min(...all(m)))), Number(mb(Math.max(...all(m))))]]),
    ),
    // Computed from the pairs of each round, then the median over rounds.
    preloadOverFloorMb: Number(mb(median(perRound((r) => median(r.preload.workersKb) - median(r.floor.workersKb))))),
    preloadOverOffRatio: Number(median(perRound((r) => median(r.preload.workersKb) / median(r.off.workersKb))).toFixed(3)),
    rounds_raw: rounds,
  };
  console.log(`| mode | median worker PSS (MB) | min–max (MB) |`);
  console.log(`|---|---|---|`);
  for (const m of Object.keys(modes)) console.log(`| ${m} | ${summary.medianWorkerMb[m]} | ${summary.minMaxWorkerMb[m].join('–')} |`);
  console.log(
    `\n${summary.components} components, ${WORKERS} workers, ${ROUNDS} interleaved rounds, ${summary.machine.cores} cores, Node ${summary.machine.node}`,
  );
  console.log(`preload worker − floor worker: ${summary.preloadOverFloorMb} MB (median of per-round differences)`);
  console.log(`preload worker / preload-off worker: ${summary.preloadOverOffRatio} (median of per-round ratios)`);
  if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(summary, null, 2));
  rmSync(join(bundle, '..'), { recursive: true, force: true });
})().catch((error) => {
  console.error(`measure-pss: ${error.message}`);
  process.exit(1);
});
