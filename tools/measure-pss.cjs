#!/usr/bin/env node
/**
 * Per-worker memory (PSS, from /proc/PID/smaps_rollup) of the built demo, side by side in one run:
 *   preload  — K generated components + the built-in library, preload on
 *   off      — the same components, preload off (every worker imports and indexes them itself)
 *   floor    — no components at all (built-in library off, no bundle), preload on
 * Modes are interleaved (A B C A B C …) so machine drift hits all of them; each worker is warmed
 * with requests before it is measured.
 *
 *   npm run measure:pss -- [--count 1000] [--workers 4] [--rounds 3] [--json out.json]
 *
 * Needs the demo built (npm run build). Prints a Markdown table; --json also writes the raw figures.
 */
const { spawn } = require('node:child_process');
const { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, mkdirSync } = require('node:fs');
const { request } = require('node:http');
const { createServer } = require('node:net');
const { cpus, totalmem, tmpdir } = require('node:os');
const { join, resolve } = require('node:path');
const { generateBundle } = require('./gen-bundle.cjs');

const DEMO = resolve(__dirname, '../apps/demo/dist/main.js');
const args = process.argv.slice(2);
const flag = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const COUNT = Number(flag('count', '1000'));
const WORKERS = Number(flag('workers', '4'));
const ROUNDS = Number(flag('rounds', '3'));
const JSON_OUT = flag('json', null);

const freePort = () =>
  new Promise((ok) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });

const get = (port, path) =>
  new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => ok(res.statusCode));
    });
    req.on('error', fail);
    req.end();
  });

/** PSS in KiB of one process. */
const pssKb = (pid) => Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))[1]);

const childrenOf = (ppid) =>
  readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid;
      } catch {
        return false;
      }
    })
    .map(Number);

async function runMode(mode, env) {
  const dir = mkdtempSync(join(tmpdir(), `pss-${mode}-`));
  mkdirSync(join(dir, 'tmp'));
  const port = await freePort();
  const child = spawn(process.execPath, [DEMO], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH, PORT: String(port), WORKERS: String(WORKERS), DATA_DIR: join(dir, 'data'), TMPDIR: join(dir, 'tmp'), ...env },
  });
  let out = '';
  child.stdout.on('data', (c) => (out += c));
  child.stderr.on('data', (c) => (out += c));
  const started = Date.now();
  while (!/cluster ready/.test(out)) {
    if (child.exitCode !== null || Date.now() - started > 120_000) throw new Error(`${mode}: the cluster did not become ready:\n${out.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  // Warm every worker the same way in every mode: the index and the health endpoint, several times each.
  for (let i = 0; i < WORKERS * 6; i++) {
    await get(port, '/api/v1/all');
    await get(port, '/health/preload');
  }
  await new Promise((r) => setTimeout(r, 1_000));
  const workers = childrenOf(child.pid);
  const figures = { mode, primaryKb: pssKb(child.pid), workersKb: workers.map(pssKb).sort((a, b) => a - b) };
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  rmSync(dir, { recursive: true, force: true });
  return figures;
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
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
    for (const [mode, env] of Object.entries(modes)) round[mode] = await runMode(mode, env);
    rounds.push(round);
    process.stderr.write(`round ${r + 1}/${ROUNDS}: median worker PSS preload ${mb(median(round.preload.workersKb))} MB, off ${mb(median(round.off.workersKb))} MB, floor ${mb(median(round.floor.workersKb))} MB\n`);
  }
  const all = (mode) => rounds.flatMap((r) => r[mode].workersKb);
  const perRound = (fn) => rounds.map(fn);
  const summary = {
    machine: { cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    components: COUNT + 24,
    workers: WORKERS,
    rounds: ROUNDS,
    medianWorkerMb: Object.fromEntries(Object.keys(modes).map((m) => [m, Number(mb(median(all(m))))])),
    minMaxWorkerMb: Object.fromEntries(Object.keys(modes).map((m) => [m, [Number(mb(Math.min(...all(m)))), Number(mb(Math.max(...all(m))))]])),
    // Computed from the pairs of each round, then the median over rounds.
    preloadOverFloorMb: Number(mb(median(perRound((r) => median(r.preload.workersKb) - median(r.floor.workersKb))))),
    preloadOverOffRatio: Number(median(perRound((r) => median(r.preload.workersKb) / median(r.off.workersKb))).toFixed(3)),
    rounds_raw: rounds,
  };
  console.log(`| mode | median worker PSS (MB) | min–max (MB) |`);
  console.log(`|---|---|---|`);
  for (const m of Object.keys(modes)) console.log(`| ${m} | ${summary.medianWorkerMb[m]} | ${summary.minMaxWorkerMb[m].join('–')} |`);
  console.log(`\n${summary.components} components, ${WORKERS} workers, ${ROUNDS} interleaved rounds, ${summary.machine.cores} cores, Node ${summary.machine.node}`);
  console.log(`preload worker − floor worker: ${summary.preloadOverFloorMb} MB (median of per-round differences)`);
  console.log(`preload worker / preload-off worker: ${summary.preloadOverOffRatio} (median of per-round ratios)`);
  if (JSON_OUT) writeFileSync(JSON_OUT, JSON.stringify(summary, null, 2));
  rmSync(join(bundle, '..'), { recursive: true, force: true });
})().catch((error) => {
  console.error(`measure-pss: ${error.message}`);
  process.exit(1);
});
