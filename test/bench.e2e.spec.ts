import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hasPostgres } from './support/services';

// `npm run bench -- --quick`, the CI smoke of the benchmark: every mode starts, serves and is
// measured. No timing threshold here: times are noisy; the figures are for the README, not for CI.

const { pairedRatio, targets, summarize } = require('../tools/bench/report.cjs');

const { balancedOrder } = require('../tools/lib/demo-runner.cjs');

const BENCH = resolve(__dirname, '../tools/bench.cjs');
const MODES = ['preload', 'off', 'pm2', 'floor'];

describe('the benchmark, --quick', () => {
  let out: string;
  let results: any;
  let report: string;
  beforeAll(() => {
    out = mkdtempSync(join(tmpdir(), 'np-bench-'));
    // With PostgreSQL (always in CI) it also counts connections server side; without, it says so and uses SQLite.
    report = execFileSync(process.execPath, [BENCH, '--quick', '--out', out, ...(hasPostgres() ? [] : ['--no-pg'])], {
      encoding: 'utf8',
      timeout: 330_000,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  }, 350_000);
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it('starts and measures every mode at every point of the quick matrix', () => {
    for (const workers of [1, 2]) {
      for (const components of [0, 300]) {
        for (const mode of components === 0 ? MODES : MODES.filter((m) => m !== 'floor')) {
          const runs = results.raw.matrix.filter((r: any) => r.mode === mode && r.workers === workers && r.components === components);
          expect([mode, workers, components, runs.length]).toEqual([mode, workers, components, 1]);
          const [r] = runs;
          expect(r.readyMs).toBeGreaterThan(0);
          expect(r.totalPssKb).toBeGreaterThan(r.medianWorkerPssKb * workers * 0.9);
          expect(r.primaryPssKb).toBeGreaterThan(0);
          if (hasPostgres()) expect(r.dbConnections).toBeGreaterThanOrEqual(workers);
        }
      }
    }
  });

  it('starts and measures the typical API in every mode, settled, at each N of the quick matrix', () => {
    for (const workers of [1, 2]) {
      for (const mode of MODES) {
        const runs = results.raw.typical.filter((r: any) => r.mode === mode && r.workers === workers);
        expect([mode, workers, runs.length]).toEqual([mode, workers, 1]);
        expect(runs[0].readyMs).toBeGreaterThan(0);
        expect(runs[0].totalPssKb).toBeGreaterThan(runs[0].medianWorkerPssKb * workers * 0.9);
        // A lean app's serving preloader is kept: no replacement to pay.
        expect(runs[0].preloaderReplaced).toBe(false);
      }
    }
    expect(report).toContain('**Typical API');
  });

  it('loads every mode with autocannon: requests served, none failed', () => {
    for (const mode of MODES) {
      const [r] = results.raw.load.filter((x: any) => x.mode === mode);
      for (const path of mode === 'floor' ? ['/api/v1/version'] : ['/api/v1/all', '/api/v1/version']) {
        expect([mode, path, r.load[path].requests > 0, r.load[path].rps > 0]).toEqual([mode, path, true, true]);
      }
    }
  });

  it('writes the JSON with the machine, the Markdown report and four SVG plots', () => {
    expect(results.machine).toMatchObject({ cores: expect.any(Number), memoryGiB: expect.any(Number), node: process.version });
    for (const heading of [
      '**Targets**',
      '**Time from launch until every worker is ready (ms)**',
      '**Total PSS of the process tree (MB)**',
      '**Throughput and p99 latency',
    ]) {
      expect(report).toContain(heading);
    }
    expect(readFileSync(join(out, 'results.md'), 'utf8')).toBe(report.trimEnd() + '\n');
    const svgs = readdirSync(out)
      .filter((f) => f.endsWith('.svg'))
      .sort();
    expect(svgs).toEqual(['pss-vs-components.svg', 'pss-vs-workers.svg', 'ready-vs-components.svg', 'ready-vs-workers.svg']);
    for (const svg of svgs) {
      const text = readFileSync(join(out, svg), 'utf8');
      expect(text.startsWith('<svg')).toBe(true);
      expect(text).toContain('preload off');
    }
  });
});

describe('the benchmark report', () => {
  it.each([2, 3, 4, 5])(
    'orders %i modes so that over a cycle of rounds each runs right after each other equally often, and in each position',
    (n) => {
      const modes = 'ABCDE'.slice(0, n).split('');
      const rounds = n % 2 ? 2 * n : n;
      const after = new Map<string, number>();
      const at = new Map<string, number>();
      for (let round = 0; round < rounds; round++) {
        const order = balancedOrder(modes, round) as string[];
        expect([...order].sort()).toEqual(modes);
        order.forEach((m, i) => at.set(`${m}@${i}`, (at.get(`${m}@${i}`) ?? 0) + 1));
        for (let i = 1; i < n; i++) after.set(order[i - 1] + order[i], (after.get(order[i - 1] + order[i]) ?? 0) + 1);
      }
      // Every ordered pair of distinct modes, equally often (a rotation would give only n of them).
      expect(after.size).toBe(n * (n - 1));
      expect(new Set(after.values()).size).toBe(1);
      expect(new Set(at.values())).toEqual(new Set([rounds / n]));
    },
  );

  it('computes a ratio from the pairs of the same round, then their median — not a ratio of medians', () => {
    const a = [
      { round: 0, v: 10 },
      { round: 1, v: 30 },
      { round: 2, v: 20 },
    ];
    const b = [
      { round: 2, v: 40 },
      { round: 0, v: 5 },
      { round: 1, v: 6 },
    ];
    // Per round: 10/5 = 2, 30/6 = 5, 20/40 = 0.5 → median 2 (the ratio of the medians would be 20/6 ≈ 3.3).
    expect(pairedRatio(a, b, (x: any) => x.v)).toBe(2);
    // A round missing on one side is left out, not paired with another round.
    expect(pairedRatio(a, b.slice(1), (x: any) => x.v)).toBe(3.5);
  });

  it('checks each target against the measured figure, names the worst cell and says which are missed', () => {
    const run = (
      mode: string,
      workers: number,
      components: number,
      round: number,
      totalPssKb: number,
      readyMs: number,
      worker = 70_000,
    ) => ({
      mode,
      workers,
      components,
      round,
      totalPssKb,
      readyMs,
      medianWorkerPssKb: worker,
      primaryPssKb: 17_000,
      dbConnections: workers,
    });
    const results = {
      config: { workers: [4, 8], counts: [0, 1000] },
      raw: {
        bareNodeKb: [16_000],
        matrix: [
          run('preload', 8, 1000, 0, 400_000, 3000),
          run('off', 8, 1000, 0, 1_000_000, 6000),
          run('floor', 8, 0, 0, 380_000, 2000),
          run('preload', 8, 0, 0, 390_000, 2900, 69_000),
          run('off', 8, 0, 0, 400_000, 2800),
        ],
        typical: [
          run('preload', 4, 0, 0, 500_000, 4000),
          run('off', 4, 0, 0, 500_000, 4100),
          run('preload', 8, 0, 0, 990_000, 8200),
          run('off', 8, 0, 0, 1_000_000, 8000),
        ],
        load: [
          { mode: 'preload', round: 0, load: { '/api/v1/all': { rps: 900 } } },
          { mode: 'off', round: 0, load: { '/api/v1/all': { rps: 1000 } } },
        ],
      },
    };
    const s = summarize(results);
    expect(s.totalPssPreloadOverOff).toBeCloseTo(0.4);
    expect(s.readyPreloadOverOff).toBeCloseTo(0.5);
    // 2900 / 2800 at K = 0 is the demo's worst cell; 8200 / 8000 the typical API's worst N.
    expect(s.worstDemoReady).toMatchObject({ n: 8, k: 0 });
    expect(s.worstDemoReady.ratio).toBeCloseTo(1.036, 3);
    expect(s.worstTypicalReady).toMatchObject({ n: 8, ratio: 1.025 });
    const met = targets(results, s).map((t: any) => [t.target, t.met, t.measured]);
    expect(met).toEqual([
      ['≤ 1.03', true, '1.02 (N=8)'],
      ['≤ 1.00', false, '1.00'],
      ['≤ 1.00', true, '1.00 (N=4)'],
      ['≤ 1.03', false, '1.04 (N=8, K=0)'],
      ['≤ 0.45', false, '0.50'],
      ['≤ 1.02', false, '1.05 (N=8, K=1000)'],
      ['≤ 0.45', true, '0.40'],
      ['≤ 1.10', true, '1.05'],
      expect.arrayContaining(['≤ 10 MB', true]),
      expect.arrayContaining(['< 5 MB', true]),
      ['≥ 1.0', false, '0.90'],
    ]);
  });
});
