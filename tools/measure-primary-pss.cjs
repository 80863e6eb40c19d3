#!/usr/bin/env node
/**
 * Does seeing the cluster (Prometheus metrics relayed through the primary, the start-up timeline)
 * cost the primary memory? The primary's PSS in a ready cluster of this checkout and of a
 * baseline checkout (by default the commit before any of that work, 6cc69aa), side by side:
 * interleaved in a balanced order each round, the same demo start, the same requests — including
 * `scrapes` scrapes of `/metrics`, one every `interval-ms` as Prometheus would send them (the
 * baseline answers them 404 without the primary; this checkout relays each through the primary) —
 * then the primary's PSS from /proc/PID/smaps_rollup. Scraping in a burst instead
 * (`--interval-ms 0`) measures V8 growing the primary's young generation under a burst of events.
 *
 *   git worktree add /tmp/np-baseline 6cc69aa && (cd /tmp/np-baseline && npm ci && npx nx run-many -t build -p nest-preload demo)
 *   npm run measure:primary-pss -- --baseline /tmp/np-baseline [--workers 2] [--rounds 4] [--scrapes 60] [--interval-ms 1000] [--settle-ms 0]
 */
const { existsSync, writeFileSync } = require('node:fs');
const { join, resolve } = require('node:path');
const { execFileSync } = require('node:child_process');
const { DEMO, flag, freePort, get, machine, median, pssKb, balancedOrder } = require('./lib/demo-runner.cjs');
const { start } = require('./bench/modes.cjs');

const args = process.argv.slice(2);
const BASELINE = flag(args, 'baseline', null);
const WORKERS = Number(flag(args, 'workers', '2'));
const ROUNDS = Number(flag(args, 'rounds', '4'));
const SCRAPES = Number(flag(args, 'scrapes', '60'));
const INTERVAL_MS = Number(flag(args, 'interval-ms', '1000'));
const SETTLE_MS = Number(flag(args, 'settle-ms', '0'));
const OUT = flag(args, 'out', null);

(async () => {
  if (!BASELINE) {
    console.error(
      'measure-primary-pss: --baseline DIR is needed: a checkout of the revision to compare with, built (see the head of this file)',
    );
    process.exit(2);
  }
  const baselineMain = resolve(BASELINE, 'apps/demo/dist/main.js');
  if (!existsSync(baselineMain)) {
    console.error(
      `measure-primary-pss: ${baselineMain} does not exist: build the baseline checkout first (npx nx run-many -t build -p nest-preload demo)`,
    );
    process.exit(2);
  }
  const revision = (dir) => {
    const head = execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    // The figures this tool writes under bench/results do not make the build measured another one.
    const dirty =
      execFileSync('git', ['-C', dir, 'status', '--porcelain', '--untracked-files=no', '--', '.', ':(exclude)bench/results'], {
        encoding: 'utf8',
      }).trim() !== '';
    return dirty ? `${head} with uncommitted changes` : head;
  };
  const builds = { [`this checkout (${revision(join(__dirname, '..'))})`]: DEMO, [`baseline (${revision(BASELINE)})`]: baselineMain };
  const modes = Object.keys(builds);
  const pss = Object.fromEntries(modes.map((m) => [m, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of balancedOrder(modes, round)) {
      const port = await freePort();
      const run = await start('preload', { workers: WORKERS, port, entry: builds[mode], env: { NEST_PRELOAD: 'true' } });
      try {
        await run.settled();
        for (let i = 0; i < 20; i++) if ((await get(port, '/api/v1/all')) !== 200) throw new Error(`${mode}: not serving`);
        // Scrapes as Prometheus sends them: one every INTERVAL_MS, so both builds run as long.
        for (let i = 0; i < SCRAPES; i++) {
          const next = performance.now() + INTERVAL_MS;
          await get(port, '/metrics');
          await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
        }
        // Measured at once, or after a quiet while (what V8 keeps of a burst's young generation).
        await new Promise((r) => setTimeout(r, SETTLE_MS));
        pss[mode].push(pssKb(run.primaryPid) / 1024);
        process.stderr.write(`round ${round + 1}/${ROUNDS} ${mode}: primary PSS ${pss[mode].at(-1).toFixed(2)} MB\n`);
      } finally {
        await run.stop();
      }
    }
  }
  const [now, base] = modes;
  const diffs = pss[now].map((x, i) => x - pss[base][i]);
  const m = machine();
  const lines = [
    `| build | primary PSS, median MB (min–max) |`,
    '|---|---|',
    ...modes.map(
      (mode) => `| ${mode} | ${median(pss[mode]).toFixed(2)} (${Math.min(...pss[mode]).toFixed(2)}–${Math.max(...pss[mode]).toFixed(2)}) |`,
    ),
    '',
    `this checkout − baseline, median of per-round differences: **${median(diffs) >= 0 ? '+' : ''}${median(diffs).toFixed(2)} MB** (${Math.min(...diffs).toFixed(2)} to ${Math.max(...diffs).toFixed(2)})`,
    '',
    `The demo, preload on, ${WORKERS} workers, 20 requests and ${SCRAPES} scrapes of /metrics ${INTERVAL_MS ? `one every ${INTERVAL_MS} ms` : 'in a burst'}${SETTLE_MS ? `, measured ${SETTLE_MS / 1000} s after the last` : ''} each start; ${ROUNDS} balanced rounds; ${m.cores} cores, Node ${m.node}. Made by \`npm run measure:primary-pss -- --baseline ${BASELINE} --workers ${WORKERS} --rounds ${ROUNDS} --scrapes ${SCRAPES} --interval-ms ${INTERVAL_MS}${SETTLE_MS ? ` --settle-ms ${SETTLE_MS}` : ''}\`.`,
  ];
  console.log(lines.join('\n'));
  if (OUT) writeFileSync(OUT, `${lines.join('\n')}\n`);
})().catch((error) => {
  console.error(`measure-primary-pss: ${error.stack ?? error.message}`);
  process.exit(1);
});
