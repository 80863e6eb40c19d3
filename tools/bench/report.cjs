/** Turns the benchmark's raw figures into summaries, target checks and a Markdown report. */
const { median } = require('../lib/demo-runner.cjs');

const MB = (kb) => kb / 1024;
const fmt = (x, digits = 1) => (x === null || x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits));
const spread = (xs, scale = (x) => x, digits = 0) => {
  const v = xs.filter((x) => x !== null && x !== undefined).map(scale);
  return v.length ? `${fmt(median(v), digits)} (${fmt(Math.min(...v), digits)}–${fmt(Math.max(...v), digits)})` : '–';
};

/** The results of `mode` at (N, K) across rounds (the floor has no K). */
const cell = (results, mode, workers, components) =>
  results.raw.matrix.filter((r) => r.mode === mode && r.workers === workers && (mode === 'floor' || r.components === components));

/** Median over rounds of a / b, each from the same round. */
function pairedRatio(as, bs, value) {
  const ratios = as
    .map((a) => {
      const b = bs.find((x) => x.round === a.round);
      return b && value(b) ? value(a) / value(b) : null;
    })
    .filter((x) => x !== null);
  return ratios.length ? median(ratios) : null;
}

/** The typical API's results of `mode` at N across rounds. */
const typicalCell = (results, mode, workers) => (results.raw.typical ?? []).filter((r) => r.mode === mode && r.workers === workers);

const worst = (xs) => xs.filter((x) => x.ratio !== null).reduce((a, b) => (a && a.ratio >= b.ratio ? a : b), null);

/** Every figure the README and the targets need. */
function summarize(results) {
  const { workers, counts } = results.config;
  const readyOf = (r) => r.readyMs;
  const totalOf = (r) => r.totalPssKb;
  // Per cell of the demo's matrix, and per N of the typical API: preload against off (and the floor).
  const demoCells = results.raw.matrix.length
    ? workers.flatMap((n) =>
        counts.map((k) => ({
          n,
          k,
          ready: pairedRatio(cell(results, 'preload', n, k), cell(results, 'off', n, k), readyOf),
          pssOverFloor: pairedRatio(cell(results, 'preload', n, k), cell(results, 'floor', n, k), totalOf),
        })),
      )
    : [];
  const typical = (results.raw.typical ?? []).length
    ? workers.map((n) => ({
        n,
        ready: pairedRatio(typicalCell(results, 'preload', n), typicalCell(results, 'off', n), readyOf),
        pss: pairedRatio(typicalCell(results, 'preload', n), typicalCell(results, 'off', n), totalOf),
      }))
    : [];
  const nMax = Math.max(...workers);
  const kRef = counts.includes(1000) ? 1000 : counts[counts.length - 1];
  const at = (mode, n = nMax, k = kRef) => cell(results, mode, n, k);
  const primaryPreload = results.raw.matrix.filter((r) => r.mode === 'preload').map((r) => r.primaryPssKb);
  const kMin = Math.min(...counts);
  const kTop = Math.max(...counts);
  const growth = workers
    .filter((n) => cell(results, 'preload', n, kTop).length && cell(results, 'preload', n, kMin).length)
    .map((n) => ({
      workers: n,
      mb: MB(
        median(cell(results, 'preload', n, kTop).map((r) => r.medianWorkerPssKb)) -
          median(cell(results, 'preload', n, kMin).map((r) => r.medianWorkerPssKb)),
      ),
    }));
  const loadOf = (mode) => results.raw.load.filter((r) => r.mode === mode);
  const allRps = (r) => r.load['/api/v1/all']?.rps;
  return {
    nMax,
    kRef,
    kMin,
    kTop,
    demoCells,
    typical,
    worstDemoReady: worst(demoCells.map((c) => ({ ...c, ratio: c.ready }))),
    worstDemoPssOverFloor: worst(demoCells.map((c) => ({ ...c, ratio: c.pssOverFloor }))),
    worstTypicalReady: worst(typical.map((c) => ({ ...c, ratio: c.ready }))),
    medianTypicalReady: typical.length ? median(typical.map((c) => c.ready).filter((x) => x !== null)) : null,
    worstTypicalPss: worst(typical.map((c) => ({ ...c, ratio: c.pss }))),
    totalPssPreloadOverOff: pairedRatio(at('preload'), at('off'), (r) => r.totalPssKb),
    totalPssPreloadOverFloor: pairedRatio(at('preload'), at('floor'), (r) => r.totalPssKb),
    readyPreloadOverOff: pairedRatio(at('preload'), at('off'), (r) => r.readyMs),
    primaryPreloadMb: MB(median(primaryPreload)),
    bareNodeMb: MB(median(results.raw.bareNodeKb)),
    workerGrowth: growth,
    throughputAllPreloadOverOff: pairedRatio(loadOf('preload'), loadOf('off'), allRps),
    throughputAllPm2OverOff: pairedRatio(loadOf('pm2'), loadOf('off'), allRps),
    leanTotalPssOverOff: results.raw.lean?.length
      ? pairedRatio(
          results.raw.lean.filter((r) => r.mode === 'preload' && r.components === kRef),
          results.raw.lean.filter((r) => r.mode === 'off'),
          (r) => r.totalPssKb,
        )
      : null,
    leanWorkerGrowthMb:
      results.raw.lean?.some((r) => r.components === kTop) && results.raw.lean.some((r) => r.components === kMin)
        ? MB(
            median(
              results.raw.lean
                .filter((r) => r.mode === 'preload' && r.components === kTop)
                .map(
                  (r) =>
                    r.medianWorkerPssKb -
                    (results.raw.lean.find((x) => x.mode === 'preload' && x.components === kMin && x.round === r.round)
                      ?.medianWorkerPssKb ?? NaN),
                ),
            ),
          )
        : null,
  };
}

function targets(results, s) {
  const row = (what, target, measured, met) => ({ what, target, measured, met });
  const at = (c) => (c ? `${fmt(c.ratio, 2)} (N=${c.n}${c.k === undefined ? '' : `, K=${c.k}`})` : '–');
  const typical = s.typical.length
    ? [
        row(
          'typical API, time until every worker is ready, preload ÷ off, worst N',
          '≤ 1.03',
          at(s.worstTypicalReady),
          s.worstTypicalReady !== null && s.worstTypicalReady.ratio <= 1.03,
        ),
        row(
          'typical API, time until every worker is ready, preload ÷ off, median over N',
          '≤ 1.00',
          fmt(s.medianTypicalReady, 2),
          s.medianTypicalReady !== null && s.medianTypicalReady <= 1.0,
        ),
        row(
          'typical API, total PSS settled, preload ÷ off, worst N',
          '≤ 1.00',
          at(s.worstTypicalPss),
          s.worstTypicalPss !== null && s.worstTypicalPss.ratio <= 1.0,
        ),
      ]
    : [];
  if (!results.raw.matrix.length) return typical;
  return [
    ...typical,
    row(
      'demo, time until every worker is ready, preload ÷ off, worst cell (N, K)',
      '≤ 1.03',
      at(s.worstDemoReady),
      s.worstDemoReady !== null && s.worstDemoReady.ratio <= 1.03,
    ),
    row(
      `demo, time until all ${s.nMax} workers are ready, K=${s.kRef}: preload ÷ off`,
      '≤ 0.45',
      fmt(s.readyPreloadOverOff, 2),
      s.readyPreloadOverOff !== null && s.readyPreloadOverOff <= 0.45,
    ),
    row(
      'demo, total PSS settled, preload ÷ floor, worst cell (N, K)',
      '≤ 1.02',
      at(s.worstDemoPssOverFloor),
      s.worstDemoPssOverFloor !== null && s.worstDemoPssOverFloor.ratio <= 1.02,
    ),
    row(
      `total PSS, N=${s.nMax}, K=${s.kRef}: preload ÷ off`,
      '≤ 0.45',
      fmt(s.totalPssPreloadOverOff, 2),
      s.totalPssPreloadOverOff !== null && s.totalPssPreloadOverOff <= 0.45,
    ),
    ...(s.leanTotalPssOverOff === null
      ? []
      : [
          row(
            `total PSS, N=${s.nMax}, K=${s.kRef}: preload with \`workerExecArgv: ${JSON.stringify(results.config.leanFlags)}\` ÷ off`,
            '≤ 0.45',
            fmt(s.leanTotalPssOverOff, 2),
            s.leanTotalPssOverOff <= 0.45,
          ),
        ]),
    row(
      `total PSS, N=${s.nMax}, K=${s.kRef}: preload ÷ floor`,
      '≤ 1.10',
      fmt(s.totalPssPreloadOverFloor, 2),
      s.totalPssPreloadOverFloor !== null && s.totalPssPreloadOverFloor <= 1.1,
    ),
    row(
      'primary PSS (preload) − bare node PSS',
      '≤ 10 MB',
      `${fmt(s.primaryPreloadMb - s.bareNodeMb)} MB (${fmt(s.primaryPreloadMb)} vs ${fmt(s.bareNodeMb)})`,
      s.primaryPreloadMb - s.bareNodeMb <= 10,
    ),
    row(
      `median worker PSS (preload) growth, K=${s.kMin} → ${s.kTop}`,
      '< 5 MB',
      s.workerGrowth.map((g) => `N=${g.workers}: ${fmt(g.mb)} MB`).join(', '),
      s.workerGrowth.every((g) => g.mb < 5),
    ),
    ...(s.leanWorkerGrowthMb === null
      ? []
      : [
          row(
            `median worker PSS (preload, \`workerExecArgv: ${JSON.stringify(results.config.leanFlags)}\`) growth, N=${s.nMax}, K=${s.kMin} → ${s.kTop}`,
            '< 5 MB',
            `${fmt(s.leanWorkerGrowthMb)} MB`,
            s.leanWorkerGrowthMb < 5,
          ),
        ]),
    row(
      '/api/v1/all throughput: preload ÷ off',
      '≥ 1.0',
      fmt(s.throughputAllPreloadOverOff, 2),
      s.throughputAllPreloadOverOff !== null && s.throughputAllPreloadOverOff >= 1.0,
    ),
  ];
}

function markdownReport(results) {
  const s = summarize(results);
  const { workers, counts, rounds } = results.config;
  const m = results.machine;
  const lines = [];
  const table = (head, rows) => {
    lines.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`), '');
  };
  lines.push(
    `Machine: ${m.cores} cores (${m.cpu}), ${m.memoryGiB} GiB, Node ${m.node}. ${results.config.database}. ${rounds} round(s), modes interleaved in a balanced order (Williams design); median (min–max); ratios are medians of per-round ratios. Run took ${results.durationS} s.`,
    '',
  );
  lines.push('**Targets**', '');
  table(
    ['figure', 'target', 'measured', 'met'],
    targets(results, s).map((t) => [t.what, t.target, t.measured, t.met ? 'yes' : '**no**']),
  );
  if (s.typical.length) {
    const modes = ['preload', 'off', 'pm2', 'floor'];
    lines.push(
      '**Typical API (apps/typical-api: boot-heavy, step-light): time until every worker is ready (ms) and total PSS once settled (MB)**',
      '',
    );
    table(
      ['N', ...modes.map((m) => `ready: ${m}`), 'ready: preload ÷ off', ...modes.map((m) => `PSS: ${m}`), 'PSS: preload ÷ off'],
      s.typical.map((c) => [
        c.n,
        ...modes.map((m) => spread(typicalCell(results, m, c.n).map((r) => r.readyMs))),
        fmt(c.ready, 2),
        ...modes.map((m) =>
          spread(
            typicalCell(results, m, c.n).map((r) => r.totalPssKb),
            MB,
            1,
          ),
        ),
        fmt(c.pss, 2),
      ]),
    );
  }
  if (!results.raw.matrix.length) return `${lines.join('\n').trimEnd()}\n`;
  lines.push('**The Langflow-shaped demo**', '');
  const grid = (title, value, scale, digits, extra) => {
    lines.push(`**${title}**`, '');
    table(
      ['N', 'K', 'preload', 'off', 'PM2', 'floor', ...extra.map((e) => e[0])],
      workers.flatMap((n) =>
        counts.map((k) => [
          n,
          k,
          ...['preload', 'off', 'pm2', 'floor'].map((mode) => spread(cell(results, mode, n, k).map(value), scale, digits)),
          ...extra.map(([, compute]) => compute(n, k)),
        ]),
      ),
    );
  };
  const ratio = (a, b, value) => (n, k) => fmt(pairedRatio(cell(results, a, n, k), cell(results, b, n, k), value), 2);
  const ready = (r) => r.readyMs;
  const total = (r) => r.totalPssKb;
  const worker = (r) => r.medianWorkerPssKb;
  grid('Time from launch until every worker is ready (ms)', ready, (x) => x, 0, [
    ['preload ÷ off', ratio('preload', 'off', ready)],
    ['PM2 ÷ off', ratio('pm2', 'off', ready)],
  ]);
  grid('Total PSS of the process tree (MB)', total, MB, 1, [
    ['preload ÷ off', ratio('preload', 'off', total)],
    ['preload ÷ floor', ratio('preload', 'floor', total)],
  ]);
  grid('Median worker PSS (MB)', worker, MB, 1, [
    [
      'preload − floor (MB)',
      (n, k) => {
        const diff =
          pairedRatio(cell(results, 'preload', n, k), cell(results, 'floor', n, k), () => 1) === null
            ? null
            : median(
                cell(results, 'preload', n, k).map(
                  (a) => a.medianWorkerPssKb - (cell(results, 'floor', n, k).find((f) => f.round === a.round)?.medianWorkerPssKb ?? NaN),
                ),
              );
        return diff === null ? '–' : fmt(MB(diff));
      },
    ],
  ]);
  lines.push('**Primary PSS (MB) and open database connections at steady state (server side)**', '');
  table(
    [
      'N',
      'K',
      'primary: preload',
      'primary: off',
      'primary: PM2 daemon',
      'DB conns: preload',
      'DB conns: off',
      'DB conns: PM2',
      'DB conns: floor',
    ],
    workers.flatMap((n) =>
      counts.map((k) => [
        n,
        k,
        ...['preload', 'off', 'pm2'].map((mode) =>
          spread(
            cell(results, mode, n, k).map((r) => r.primaryPssKb),
            MB,
            1,
          ),
        ),
        ...['preload', 'off', 'pm2', 'floor'].map((mode) =>
          spread(
            cell(results, mode, n, k).map((r) => r.dbConnections),
            (x) => x,
            0,
          ),
        ),
      ]),
    ),
  );
  lines.push(`Bare \`node\` idling: ${fmt(s.bareNodeMb)} MB PSS (median of ${results.raw.bareNodeKb.length}).`, '');
  const tp = results.config.throughputAt;
  lines.push(
    `**Throughput and p99 latency under autocannon (${results.config.connections} connections, ${results.config.durationS} s, loopback, \`Accept-Encoding: gzip, deflate, br\` as a browser sends it), N=${tp.workers}, K=${tp.components}**`,
    '',
  );
  const loadOf = (mode) => results.raw.load.filter((r) => r.mode === mode);
  table(
    ['mode', '/api/v1/all req/s', '/api/v1/all p99 (ms)', '/api/v1/version req/s', '/api/v1/version p99 (ms)', 'all: ÷ off'],
    Object.keys(results.modes).map((mode) => [
      mode,
      spread(loadOf(mode).map((r) => r.load['/api/v1/all']?.rps)),
      spread(loadOf(mode).map((r) => r.load['/api/v1/all']?.p99Ms)),
      spread(loadOf(mode).map((r) => r.load['/api/v1/version']?.rps)),
      spread(loadOf(mode).map((r) => r.load['/api/v1/version']?.p99Ms)),
      fmt(
        pairedRatio(loadOf(mode), loadOf('off'), (r) => r.load['/api/v1/all']?.rps),
        2,
      ),
    ]),
  );
  if (results.raw.knobs.length) {
    lines.push(`**Worker V8 memory flags (\`workerExecArgv\`, workers only), preload mode, N=${tp.workers}, K=${tp.components}**`, '');
    const knob = (k) => results.raw.knobs.filter((r) => r.knob === k);
    table(
      [
        'flags',
        'median worker PSS (MB)',
        'total PSS (MB)',
        '/api/v1/all req/s',
        '/api/v1/version req/s',
        'worker PSS ÷ default',
        'all req/s ÷ default',
      ],
      Object.entries(results.config.knobs).map(([k, flags]) => [
        flags.length ? `\`${flags.join(' ')}\`` : 'default',
        spread(
          knob(k).map((r) => r.medianWorkerPssKb),
          MB,
          1,
        ),
        spread(
          knob(k).map((r) => r.totalPssKb),
          MB,
          1,
        ),
        spread(knob(k).map((r) => r.load['/api/v1/all'].rps)),
        spread(knob(k).map((r) => r.load['/api/v1/version'].rps)),
        fmt(
          pairedRatio(knob(k), knob('default'), (r) => r.medianWorkerPssKb),
          2,
        ),
        fmt(
          pairedRatio(knob(k), knob('default'), (r) => r.load['/api/v1/all'].rps),
          2,
        ),
      ]),
    );
  }
  if (results.raw.lean?.length) {
    const of = (mode) => results.raw.lean.filter((r) => r.mode === mode && r.components === s.kRef);
    lines.push(
      `**The target point with lean workers: N=${s.nMax}, K=${s.kRef}, preload with \`workerExecArgv: ${JSON.stringify(results.config.leanFlags)}\` against preload off (default flags), paired**`,
      '',
    );
    table(
      ['mode', 'total PSS (MB)', 'median worker PSS (MB)', 'ready (ms)', 'total PSS ÷ off'],
      [
        [
          'preload, lean workers',
          spread(
            of('preload').map((r) => r.totalPssKb),
            MB,
            1,
          ),
          spread(
            of('preload').map((r) => r.medianWorkerPssKb),
            MB,
            1,
          ),
          spread(of('preload').map((r) => r.readyMs)),
          fmt(s.leanTotalPssOverOff, 2),
        ],
        [
          'preload off',
          spread(
            of('off').map((r) => r.totalPssKb),
            MB,
            1,
          ),
          spread(
            of('off').map((r) => r.medianWorkerPssKb),
            MB,
            1,
          ),
          spread(of('off').map((r) => r.readyMs)),
          '1.00',
        ],
      ],
    );
  }
  lines.push(`Compile cache: ${results.compileCache}.`, '');
  return `${lines.join('\n').trimEnd()}\n`;
}

module.exports = { markdownReport, summarize, targets, cell, typicalCell, pairedRatio };
