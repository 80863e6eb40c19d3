#!/usr/bin/env node
/**
 * What `artifactCacheBytes` (the demo's ARTIFACT_CACHE_BYTES) buys: a preloaded demo serving its
 * component index, with the hot-slice cache at its default (8 MiB: the first slices a worker reads
 * stay in its heap) and at 0 (every request reads its slice from the hand-over file, in 1 MiB
 * positioned reads out of the page cache). Per start: total PSS of the tree after warming, then
 * `/api/v1/all` req/s and p99 under autocannon, then PSS again. The two settings are interleaved
 * (balanced order) each round, each start on a fresh PostgreSQL database.
 *
 *   npm run measure:artifact-cache -- [--count 3000] [--workers 2] [--rounds 3]
 *                                     [--encoding identity|gzip] [--pg URL]
 *
 * `--encoding identity` (the default) asks for the plain JSON (3.1 MB at K = 3000), the slice
 * the cache matters for; `gzip` asks as a browser does and gets the `all.gz` slice (235 KB).
 */
const autocannon = require('autocannon');
const { mkdtempSync, rmSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { generateBundle } = require('./gen-bundle.cjs');
const { flag, freePort, get, machine, median, balancedOrder } = require('./lib/demo-runner.cjs');
const { WORKLOADS, freshDatabase, start, treePss } = require('./bench/modes.cjs');

const args = process.argv.slice(2);
const COUNT = Number(flag(args, 'count', '3000'));
const WORKERS = Number(flag(args, 'workers', '2'));
const ROUNDS = Number(flag(args, 'rounds', '3'));
const ENCODING = flag(args, 'encoding', 'identity');
const PG = flag(args, 'pg', 'postgres://postgres@127.0.0.1:5432/postgres');
const SETTINGS = { 'default (8 MiB)': {}, '0 (read each time)': { ARTIFACT_CACHE_BYTES: '0' } };

if (!['identity', 'gzip'].includes(ENCODING)) {
  console.error(`measure-artifact-cache: --encoding takes identity or gzip, not ${JSON.stringify(ENCODING)}`);
  process.exit(2);
}
const headers = { 'accept-encoding': ENCODING };
const mb = (kb) => (kb / 1024).toFixed(1);

(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'artifact-cache-'));
  const bundle = (await generateBundle({ count: COUNT, out: join(dir, 'bundle.tar.gz') })).out;
  const rows = Object.fromEntries(Object.keys(SETTINGS).map((s) => [s, []]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const setting of balancedOrder(Object.keys(SETTINGS), round)) {
        const db = await freshDatabase(PG, 'demo');
        const port = await freePort();
        const run = await start('preload', {
          workers: WORKERS,
          port,
          entry: WORKLOADS.demo.entry,
          env: { ...WORKLOADS.demo.env('preload', bundle), ...db.env, ...SETTINGS[setting] },
        });
        try {
          await run.settled();
          for (let i = 0; i < WORKERS * 4; i++) for (const path of WORKLOADS.demo.paths) await get(port, path, headers);
          await new Promise((r) => setTimeout(r, 300));
          const warmKb = treePss(run.tree()).reduce((s, p) => s + p.pssKb, 0);
          const load = await autocannon({ url: `http://127.0.0.1:${port}/api/v1/all`, headers, connections: 8, duration: 3 });
          if (load.errors || load.non2xx) throw new Error(`${setting}: ${load.errors} errors, ${load.non2xx} non-2xx under load`);
          await new Promise((r) => setTimeout(r, 300));
          const loadedKb = treePss(run.tree()).reduce((s, p) => s + p.pssKb, 0);
          rows[setting].push({ warmKb, loadedKb, rps: load.requests.average, p99: load.latency.p99 });
          console.error(
            `round ${round + 1}/${ROUNDS} ${setting}: PSS ${mb(warmKb)} MB warm, ${mb(loadedKb)} MB after load; ${load.requests.average} req/s, p99 ${load.latency.p99} ms`,
          );
        } finally {
          await run.stop();
          await db.drop();
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const m = machine();
  const [base] = Object.keys(SETTINGS);
  console.log(
    `${m.cores} cores, Node ${m.node}; preload, N=${WORKERS}, K=${COUNT}, Accept-Encoding: ${ENCODING}, ${ROUNDS} rounds, medians\n`,
  );
  console.log('| artifactCacheBytes | total PSS warm (MB) | total PSS after load (MB) | /api/v1/all req/s | p99 (ms) | req/s ÷ default |');
  console.log('|---|---|---|---|---|---|');
  for (const [setting, rs] of Object.entries(rows)) {
    const ratio = median(rs.map((r, i) => r.rps / rows[base][i].rps));
    console.log(
      `| ${setting} | ${mb(median(rs.map((r) => r.warmKb)))} | ${mb(median(rs.map((r) => r.loadedKb)))} | ${Math.round(median(rs.map((r) => r.rps)))} | ${median(rs.map((r) => r.p99))} | ${ratio.toFixed(2)} |`,
    );
  }
})().catch((error) => {
  console.error(error);
  process.exit(1);
});
