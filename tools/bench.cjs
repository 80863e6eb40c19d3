#!/usr/bin/env node
/**
 * The benchmark: what preload buys, side by side with the alternatives and the floor, on two
 * workloads.
 *
 * The demo (Langflow-shaped: heavy one-time work that leaves results) as real process trees in
 * four modes — preload, preload off, PM2 cluster mode (preload off) and the floor (no components,
 * no bundle, no seeding) — over a matrix of worker counts N and bundle sizes K (generated
 * components, on top of the 24 built-in ones). The typical API (apps/typical-api: boot-heavy,
 * step-light, like most Nest apps) in the same four modes over N (its floor: no migration, no
 * seeds). For each start: time from launch until every worker is ready; PSS of every process once
 * the cluster has settled (a heavy serving preloader replaced) — total of the tree, the primary,
 * the median worker; open database connections at steady state, counted by PostgreSQL. Then, at
 * one (N, K) of the demo, throughput and p99 latency under autocannon for
 * `/api/v1/all` (the component index) and `/api/v1/version` (a light endpoint), and the worker V8
 * memory flags against the default.
 *
 * Method: every configuration `--rounds` times, the modes interleaved in a balancedOrder order each
 * round (A B C, B C A, …) so drift and order effects hit all of them; medians with min and max;
 * every ratio computed from the pairs of the same round, then the median of those ratios. Each
 * start gets a fresh PostgreSQL database (or, without one, a fresh SQLite file and no connection
 * count).
 *
 *   npm run bench                       # the default run, about 20 minutes on 2 cores
 *   npm run bench -- --quick            # every mode starts, serves and is measured; < 4 minutes
 *   options: --rounds R --workers 1,2,4,8 --counts 0,300,1000,3000 --duration S --out DIR
 *            --workloads demo,typical (default both) --startup-only (the matrices only: no load,
 *            no memory flags; e.g. many rounds of one N to resolve a small difference)
 *            --pg URL (default postgres://postgres@127.0.0.1:5432/postgres) | --no-pg
 *
 * Writes DIR/results.json, DIR/results.md and DIR/*.svg (default DIR: bench/results).
 * Needs the apps built: `npm run build`.
 */
const { mkdirSync, mkdtempSync, rmSync, writeFileSync, existsSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');
const autocannon = require('autocannon');
const { Client } = require('pg');
const { generateBundle } = require('./gen-bundle.cjs');
const { flag, freePort, get, machine, median, balancedOrder } = require('./lib/demo-runner.cjs');
const { MODES, WORKLOADS, bareNodePssKb, freshDatabase, start, treePss } = require('./bench/modes.cjs');
const { writePlots } = require('./bench/plots.cjs');
const { markdownReport } = require('./bench/report.cjs');

const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const list = (name, fallback) => flag(args, name, fallback).split(',').map(Number);
const config = {
  quick: QUICK,
  rounds: Number(flag(args, 'rounds', QUICK ? '1' : '3')),
  workers: list('workers', QUICK ? '1,2' : '1,2,4,8'),
  counts: list('counts', QUICK ? '0,300' : '0,300,1000,3000'),
  durationS: Number(flag(args, 'duration', QUICK ? '1' : '3')),
  workloads: flag(args, 'workloads', 'demo,typical').split(','),
  startupOnly: args.includes('--startup-only'),
  connections: 8,
  pg: args.includes('--no-pg') ? null : flag(args, 'pg', process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'),
  out: resolve(flag(args, 'out', join(__dirname, '..', 'bench', 'results'))),
};
const whole = (xs, min) => xs.every((x) => Number.isInteger(x) && x >= min);
if (!whole([config.rounds, config.durationS], 1)) fail('--rounds and --duration must be whole numbers ≥ 1');
if (!whole(config.workers, 1)) fail('--workers must be whole numbers ≥ 1, comma-separated');
if (!whole(config.counts, 0)) fail('--counts must be whole numbers ≥ 0, comma-separated');
const unknown = config.workloads.filter((w) => !WORKLOADS[w]);
if (unknown.length || !config.workloads.length)
  fail(`--workloads takes ${Object.keys(WORKLOADS).join(', ')} (comma-separated), not ${JSON.stringify(unknown.join(','))}`);
// Throughput and memory flags are measured at one point of the matrix: N = the core count (or the
// nearest measured N), K = 1000 (or the largest K measured below it).
const TP_WORKERS = config.workers.reduce(
  (best, n) => (Math.abs(n - machine().cores) < Math.abs(best - machine().cores) ? n : best),
  config.workers[0],
);
const TP_COUNT = [...config.counts].filter((k) => k <= 1000).pop() ?? config.counts[0];
// Worker-only V8 flags, through runCluster's workerExecArgv (the demo's WORKER_NODE_FLAGS).
const KNOBS = { default: [], 'semi-space-1': ['--max-semi-space-size=1'], 'optimize-for-size': ['--optimize-for-size'] };
const LEAN = KNOBS['semi-space-1'];
// The benchmark's clients ask what a browser asks: the demo then sends its index gzipped (the
// `all.gz` slice, compressed once at build time), as it does to Langflow's frontend.
const CLIENT_HEADERS = { 'accept-encoding': 'gzip, deflate, br' };

function fail(message) {
  console.error(`bench: ${message}`);
  process.exit(2);
}
const log = (message) => process.stderr.write(`${message}\n`);

/** One start of one mode: ready time, PSS of the settled tree, DB connections, optionally load. */
async function measure(mode, { workload = 'demo', workers, bundle, workerFlags = [], load = false }) {
  const app = WORKLOADS[workload];
  // A fresh database per start: every mode does the same migrations and seeding.
  const db = await freshDatabase(config.pg, workload);
  const port = await freePort();
  let run;
  try {
    const flags = workerFlags.length ? { WORKER_NODE_FLAGS: workerFlags.join(' ') } : {};
    run = await start(mode, { workers, port, entry: app.entry, env: { ...app.env(mode, bundle), ...db.env, ...flags } });
    await run.settled();
    // Warm every worker alike: each of the workload's paths, several times.
    for (let i = 0; i < workers * 4; i++) {
      for (const path of app.paths) {
        const status = await get(port, path, CLIENT_HEADERS);
        if (status !== 200) throw new Error(`${workload} ${mode}: GET ${path} answered ${status}`);
      }
    }
    await new Promise((r) => setTimeout(r, 300));
    const pss = treePss(run.tree());
    const workersKb = pss
      .filter((p) => p.role === 'worker')
      .map((p) => p.pssKb)
      .sort((a, b) => a - b);
    if (workersKb.length !== workers) throw new Error(`${mode}: expected ${workers} workers, found ${workersKb.length}`);
    const result = {
      mode,
      workers,
      readyMs: Math.round(run.readyMs),
      preloaderReplaced: run.replacedPreloader(),
      totalPssKb: pss.reduce((s, p) => s + p.pssKb, 0),
      primaryPssKb: pss.find((p) => p.role === 'primary')?.pssKb ?? null,
      medianWorkerPssKb: median(workersKb),
      dbConnections: await db.connections(),
    };
    if (load) {
      result.load = {};
      for (const path of mode === 'floor' ? ['/api/v1/version'] : ['/api/v1/all', '/api/v1/version']) {
        const r = await autocannon({
          url: `http://127.0.0.1:${port}${path}`,
          headers: CLIENT_HEADERS,
          connections: config.connections,
          duration: config.durationS,
        });
        if (r.errors || r.timeouts || r.non2xx || !r.requests.total)
          throw new Error(
            `${mode}: load on ${path} had ${r.errors} errors, ${r.timeouts} timeouts, ${r.non2xx} non-2xx of ${r.requests.total}`,
          );
        result.load[path] = { rps: Math.round(r.requests.average), p99Ms: r.latency.p99, requests: r.requests.total };
      }
    }
    return result;
  } finally {
    await run?.stop();
    await db.drop();
  }
}

(async () => {
  for (const w of config.workloads)
    if (!existsSync(WORKLOADS[w].entry)) fail(`the ${w} workload is not built (${WORKLOADS[w].entry}): run npm run build first`);
  if (config.pg) {
    const probe = new Client({ connectionString: config.pg, connectionTimeoutMillis: 2_000 });
    try {
      await probe.connect();
      await probe.end();
    } catch (error) {
      fail(
        `PostgreSQL at ${config.pg} is not reachable (${error.message}): start it, pass --pg URL, or --no-pg to use SQLite (no connection counts)`,
      );
    }
  }
  const started = Date.now();
  mkdirSync(config.out, { recursive: true });
  const bundleDir = mkdtempSync(join(tmpdir(), 'bench-bundles-'));
  const bundles = {};
  for (const k of config.counts)
    bundles[k] = k === 0 ? null : (await generateBundle({ count: k, out: join(bundleDir, `bundle-${k}.tar.gz`) })).out;
  const raw = { matrix: [], typical: [], load: [], knobs: [], lean: [], bareNodeKb: [] };
  const demo = config.workloads.includes('demo');
  try {
    // 1. The typical API: N × {preload, off, pm2, floor}.
    if (config.workloads.includes('typical')) {
      for (const workers of config.workers) {
        for (let round = 0; round < config.rounds; round++) {
          for (const mode of balancedOrder(Object.keys(MODES), round)) {
            const r = await measure(mode, { workload: 'typical', workers });
            raw.typical.push({ ...r, round });
            log(
              `typical N=${workers} round ${round + 1}/${config.rounds} ${mode}: ready ${r.readyMs} ms, total PSS ${(r.totalPssKb / 1024).toFixed(1)} MB, db ${r.dbConnections}`,
            );
          }
        }
      }
    }
    // 2. The demo's matrix: N × K × {preload, off, pm2}, and the floor (which has no K) once per N and round.
    for (const workers of demo ? config.workers : []) {
      for (let round = 0; round < config.rounds; round++) {
        raw.bareNodeKb.push(await bareNodePssKb());
        for (const [ki, k] of config.counts.entries()) {
          const modes = ki === 0 ? ['preload', 'off', 'pm2', 'floor'] : ['preload', 'off', 'pm2'];
          for (const mode of balancedOrder(modes, round + ki)) {
            const r = await measure(mode, { workers, bundle: bundles[k] });
            raw.matrix.push({ ...r, components: mode === 'floor' ? 0 : k, round });
            log(
              `N=${workers} K=${k} round ${round + 1}/${config.rounds} ${mode}: ready ${r.readyMs} ms, total PSS ${(r.totalPssKb / 1024).toFixed(1)} MB, worker ${(r.medianWorkerPssKb / 1024).toFixed(1)} MB, db ${r.dbConnections}${r.preloaderReplaced ? ', heavy preloader replaced' : ''}`,
            );
          }
        }
      }
    }
    // 3. Throughput and p99 at one point, every mode.
    for (let round = 0; demo && !config.startupOnly && round < config.rounds; round++) {
      for (const mode of balancedOrder(Object.keys(MODES), round)) {
        const r = await measure(mode, { workers: TP_WORKERS, bundle: bundles[TP_COUNT], load: true });
        raw.load.push({ ...r, components: mode === 'floor' ? 0 : TP_COUNT, round });
        log(
          `load N=${TP_WORKERS} K=${TP_COUNT} round ${round + 1} ${mode}: ${Object.entries(r.load)
            .map(([p, v]) => `${p} ${v.rps} rps p99 ${v.p99Ms} ms`)
            .join(', ')}`,
        );
      }
    }
    // 4. Worker V8 memory flags in preload mode, against the default, interleaved.
    if (demo && !config.quick && !config.startupOnly) {
      for (let round = 0; round < config.rounds; round++) {
        for (const knob of balancedOrder(Object.keys(KNOBS), round)) {
          const r = await measure('preload', { workers: TP_WORKERS, bundle: bundles[TP_COUNT], workerFlags: KNOBS[knob], load: true });
          raw.knobs.push({ ...r, knob, components: TP_COUNT, round });
          log(
            `knob ${knob} round ${round + 1}: worker ${(r.medianWorkerPssKb / 1024).toFixed(1)} MB, /api/v1/all ${r.load['/api/v1/all'].rps} rps`,
          );
        }
      }
    }
    // 5. The target point (largest N, K = 1000) once more: preload with lean workers against preload off, paired.
    if (demo && !config.quick && !config.startupOnly) {
      const n = Math.max(...config.workers);
      const k = config.counts.includes(1000) ? 1000 : config.counts[config.counts.length - 1];
      // And the worker's growth with K once the young generation no longer adds its own noise.
      const kLow = Math.min(...config.counts);
      const kHigh = Math.max(...config.counts);
      const runs = [
        ['preload', k],
        ['off', k],
        ['preload', kLow],
        ['preload', kHigh],
      ].filter(([, kk], i, all) => all.findIndex(([m2, k2]) => m2 === 'preload' && k2 === kk) === i || i === 1);
      for (let round = 0; round < config.rounds; round++) {
        for (const [mode, kk] of balancedOrder(runs, round)) {
          const workerFlags = mode === 'preload' ? LEAN : [];
          const r = await measure(mode, { workers: n, bundle: bundles[kk], workerFlags });
          raw.lean.push({ ...r, components: kk, round, workerFlags });
          log(
            `lean N=${n} K=${kk} round ${round + 1} ${mode}: total PSS ${(r.totalPssKb / 1024).toFixed(1)} MB, worker ${(r.medianWorkerPssKb / 1024).toFixed(1)} MB, ready ${r.readyMs} ms`,
          );
        }
      }
    }
  } finally {
    rmSync(bundleDir, { recursive: true, force: true });
  }
  const compileCache = `${typeof require('node:module').enableCompileCache === 'function' ? 'available in' : 'not available in'} this Node (${process.version}; it needs 22.1+); measured separately with a Node 22 binary by \`npm run measure:compile-cache -- --node PATH\``;
  const results = {
    machine: { ...machine(), cpu: require('node:os').cpus()[0]?.model ?? 'unknown' },
    date: new Date().toISOString(),
    config: {
      ...config,
      out: undefined,
      throughputAt: { workers: TP_WORKERS, components: TP_COUNT },
      knobs: KNOBS,
      leanFlags: LEAN,
      database: config.pg ? 'PostgreSQL (fresh database per start)' : 'SQLite (fresh file per start)',
    },
    modes: MODES,
    compileCache,
    durationS: Math.round((Date.now() - started) / 1000),
    raw,
  };
  writeFileSync(join(config.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const report = markdownReport(results);
  writeFileSync(join(config.out, 'results.md'), report);
  if (demo) await writePlots(results, config.out);
  console.log(report);
  log(`bench: done in ${results.durationS} s; results in ${config.out}`);
})().catch((error) => {
  console.error(`bench: ${error.stack ?? error.message}`);
  process.exit(1);
});
