#!/usr/bin/env node
/**
 * Start-up of a typical production API (apps/typical-api: 24 feature modules, validation, OpenAPI
 * generated at boot, 24 TypeORM entities with relations, a migration and seeds well under a
 * second) — boot-heavy and step-light, the kind of app most Nest users have. Side by side in one
 * run, modes interleaved in a rotated order each round, a fresh PostgreSQL database per start:
 *
 *   preload  runCluster, preload on (the preloader serves as worker 0)
 *   off      runCluster, preload off (every worker runs the migration and seeds under the lock)
 *   floor    runCluster, preload off, no start-up work at all (TYPICAL_STEPS=false)
 *
 * Time until every worker is ready (from the spawn) and total PSS of the tree once settled.
 *
 *   npm run bench:typical -- [--workers 1,2,4,8] [--rounds 3] [--pg URL | --no-pg] [--json out.json]
 *
 * Needs `npm run build`. Prints a Markdown table and the medians of the per-round ratios.
 */
const { existsSync, writeFileSync } = require('node:fs');
const { resolve } = require('node:path');
const { childrenOf, flag, get, machine, median, pssKb, rotated, startDemo } = require('./lib/demo-runner.cjs');
const { freshDatabase } = require('./bench/modes.cjs');

const ENTRY = resolve(__dirname, '../apps/typical-api/dist/main.js');
const args = process.argv.slice(2);
const WORKERS = flag(args, 'workers', '1,2,4,8').split(',').map(Number);
const ROUNDS = Number(flag(args, 'rounds', '3'));
const PG = args.includes('--no-pg') ? null : flag(args, 'pg', 'postgres://postgres@127.0.0.1:5432/postgres');
const JSON_OUT = flag(args, 'json', null);
const MODES = {
  preload: { NEST_PRELOAD: 'true' },
  off: { NEST_PRELOAD: 'false' },
  floor: { NEST_PRELOAD: 'false', TYPICAL_STEPS: 'false' },
};

async function once(mode, workers) {
  const db = await freshDatabase(PG, 'typical');
  let run;
  try {
    run = await startDemo(`typical-${mode}`, { ...MODES[mode], ...db.env, WORKERS: String(workers), NO_COLOR: '1' }, ENTRY);
    for (let i = 0; i < workers * 4; i++) {
      const status = await get(run.port, '/docs-json');
      if (status !== 200) throw new Error(`${mode}: GET /docs-json answered ${status}`);
    }
    await new Promise((r) => setTimeout(r, 300));
    const pids = [run.pid, ...childrenOf(run.pid)];
    if (pids.length !== workers + 1) throw new Error(`${mode}: expected ${workers} workers, found ${pids.length - 1}`);
    return { readyMs: Math.round(run.readyMs), pssMb: pids.reduce((s, pid) => s + pssKb(pid), 0) / 1024 };
  } finally {
    await run?.stop();
    await db.drop();
  }
}

(async () => {
  if (!existsSync(ENTRY)) throw new Error(`${ENTRY} is not built: run npm run build`);
  const results = {};
  for (const workers of WORKERS) {
    results[workers] = Object.fromEntries(Object.keys(MODES).map((m) => [m, []]));
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of rotated(Object.keys(MODES), round)) {
        const r = await once(mode, workers);
        results[workers][mode].push(r);
        process.stderr.write(`N=${workers} round ${round + 1}/${ROUNDS} ${mode}: ready ${r.readyMs} ms, PSS ${r.pssMb.toFixed(1)} MB\n`);
      }
    }
  }
  const ratio = (rs, a, b, key) => median(rs[a].map((x, i) => x[key] / rs[b][i][key]));
  const lines = [
    `typical API, ${machine().cores} cores, ${machine().node}, ${ROUNDS} rounds, ${PG ? 'PostgreSQL' : 'SQLite'}; medians`,
    '',
    '| N | preload ready | off ready | floor ready | ready preload ÷ off | PSS preload | PSS off | PSS floor | PSS preload ÷ off |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const [n, rs] of Object.entries(results)) {
    const m = (mode, key) => median(rs[mode].map((x) => x[key]));
    lines.push(`| ${n} | ${m('preload', 'readyMs')} ms | ${m('off', 'readyMs')} ms | ${m('floor', 'readyMs')} ms | ${ratio(rs, 'preload', 'off', 'readyMs').toFixed(2)} | ${m('preload', 'pssMb').toFixed(0)} MB | ${m('off', 'pssMb').toFixed(0)} MB | ${m('floor', 'pssMb').toFixed(0)} MB | ${ratio(rs, 'preload', 'off', 'pssMb').toFixed(2)} |`);
  }
  console.log(lines.join('\n'));
  if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify({ machine: machine(), rounds: ROUNDS, results }, null, 2));
})().catch((error) => {
  console.error(`bench:typical: ${error.stack ?? error}`);
  process.exit(1);
});
