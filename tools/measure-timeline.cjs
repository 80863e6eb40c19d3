#!/usr/bin/env node
/**
 * What does recording the start-up timeline cost? Time until every worker is ready, preload on,
 * with the timeline on (the default) and off (NEST_PRELOAD_TIMELINE_FILE=off), interleaved in a
 * balanced order each round; per cell, the median of the per-round ratios on ÷ off. Beside it,
 * the cost the recording measures of itself (the children's clock reads and pushes, the primary's
 * building and writing of the trace), as a share of that same start's time to ready.
 *
 * It also writes the README's picture of a real start: the last timeline-on start of the demo at
 * the largest N, as `timeline.json` (the trace), `timeline.txt` (`nest-preload timeline`) and
 * `timeline.svg`, into --out.
 *
 *   npm run measure:timeline -- [--workloads demo,typical] [--workers 2,4] [--count 300]
 *                               [--rounds 5] [--out bench/results]
 */
const { mkdtempSync, rmSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');
const { generateBundle } = require('./gen-bundle.cjs');
const { flag, freePort, get, machine, median, balancedOrder } = require('./lib/demo-runner.cjs');
const { WORKLOADS, start } = require('./bench/modes.cjs');

const args = process.argv.slice(2);
const LOADS = flag(args, 'workloads', 'demo,typical').split(',');
const WORKERS = flag(args, 'workers', '2,4').split(',').map(Number);
const COUNT = Number(flag(args, 'count', '300'));
const ROUNDS = Number(flag(args, 'rounds', '5'));
const OUT = resolve(flag(args, 'out', join(__dirname, '..', 'bench', 'results')));
const MODES = ['timeline on', 'timeline off'];
const { formatGantt } = require('../libs/nest-preload/dist/timeline/trace.js');

/** The trace as a Gantt chart in SVG (Vega-Lite, rendered headless like the benchmark's plots). */
async function svgOf(trace) {
  const vega = await import('vega');
  const vl = await import('vega-lite');
  const names = new Map(
    trace.traceEvents
      .filter((e) => e.name === 'process_name')
      .map((e) => [e.pid, e.args.name.replace(/ \(pid \d+\)$/, '').replace('preloader, serves as worker 0', 'preloader (worker 0)')]),
  );
  const rows = [];
  const order = [];
  for (const e of trace.traceEvents) {
    if (e.ph !== 'X' || e.cat === 'lock') continue;
    const row = `${names.get(e.pid)} · ${e.name}`;
    if (!order.includes(row)) order.push(row);
    rows.push({ row, kind: e.cat, start: e.ts / 1000, end: (e.ts + e.dur) / 1000 });
  }
  // A lock wait is drawn over its step, in its own colour.
  for (const e of trace.traceEvents.filter((x) => x.ph === 'X' && x.cat === 'lock')) {
    const step = trace.traceEvents.find(
      (s) => s.ph === 'X' && s.cat === 'step' && s.pid === e.pid && s.ts <= e.ts && s.ts + s.dur >= e.ts + e.dur,
    );
    if (step) rows.push({ row: `${names.get(e.pid)} · ${step.name}`, kind: 'lock', start: e.ts / 1000, end: (e.ts + e.dur) / 1000 });
  }
  const s = trace.otherData;
  const spec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: `A real start: ${s.target} workers ready in ${(s.clusterReadyMs / 1000).toFixed(2)} s (nest-preload timeline)`,
    width: 560,
    height: { step: 13 },
    background: 'white',
    data: { values: rows },
    mark: { type: 'bar', minBandSize: 1 },
    encoding: {
      y: { field: 'row', type: 'ordinal', sort: order, title: null, axis: { labelFontSize: 9, labelLimit: 320 } },
      x: { field: 'start', type: 'quantitative', title: 'ms since the primary started' },
      x2: { field: 'end' },
      color: {
        field: 'kind',
        type: 'nominal',
        title: 'phase',
        sort: ['cluster', 'fork', 'boot', 'app', 'handover', 'step', 'lock', 'teardown', 'serve'],
      },
    },
  };
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

(async () => {
  for (const load of LOADS) if (!WORKLOADS[load]) throw new Error(`--workloads takes ${Object.keys(WORKLOADS).join(', ')}`);
  const scratch = mkdtempSync(join(tmpdir(), 'tl-'));
  const bundle = COUNT > 0 ? (await generateBundle({ count: COUNT, out: join(scratch, 'bundle.tar.gz') })).out : null;
  const results = {};
  let picture = null;
  try {
    for (const load of LOADS) {
      for (const workers of WORKERS) {
        const cell = (results[`${load} N=${workers}`] = { on: [], off: [], costShare: [] });
        const app = WORKLOADS[load];
        for (let round = 0; round < ROUNDS; round++) {
          for (const mode of balancedOrder(MODES, round)) {
            const port = await freePort();
            const env = { ...app.env('preload', bundle), ...(mode === 'timeline off' ? { NEST_PRELOAD_TIMELINE_FILE: 'off' } : {}) };
            const run = await start('preload', { workers, port, entry: app.entry, env });
            let trace;
            try {
              if ((await get(port, app.paths[0])) !== 200) throw new Error(`${load} ${mode}: not serving`);
              trace = run.trace();
            } finally {
              await run.stop();
            }
            if (mode === 'timeline on') {
              if (!trace) throw new Error(`${load} N=${workers}: no timeline written with the timeline on`);
              // The cost from the trace written as the cluster stopped: it counts every write before it.
              const { primary, children } = run.finalTrace().otherData.recordingCostMs;
              cell.costShare.push((primary + children) / trace.otherData.clusterReadyMs);
              cell.on.push(run.readyMs);
              if (load === 'demo' && workers === Math.max(...WORKERS)) picture = trace;
            } else {
              if (trace || run.finalTrace()) throw new Error(`${load} N=${workers}: a timeline was written with the timeline off`);
              cell.off.push(run.readyMs);
            }
            process.stderr.write(`${load} N=${workers} round ${round + 1}/${ROUNDS} ${mode}: ${Math.round(run.readyMs)} ms\n`);
          }
        }
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  const m = machine();
  const lines = [
    '# What recording the start-up timeline costs',
    '',
    `Made by \`npm run measure:timeline -- --workloads ${LOADS.join(',')} --workers ${WORKERS.join(',')} --count ${COUNT} --rounds ${ROUNDS}\` on ${new Date().toISOString().slice(0, 10)}; ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}.`,
    `Preload on; time from launch until every worker is ready; the demo with ${COUNT + 24} components. ${ROUNDS} rounds, the two modes in a balanced order each round.`,
    '',
    "| cell | timeline on, median ms | timeline off, median ms | on ÷ off (median of per-round ratios) | recording's own cost ÷ time to ready, median (max) |",
    '|---|---|---|---|---|',
  ];
  for (const [name, cell] of Object.entries(results)) {
    const ratios = cell.on.map((on, i) => on / cell.off[i]);
    lines.push(
      `| ${name} | ${Math.round(median(cell.on))} | ${Math.round(median(cell.off))} | ${median(ratios).toFixed(3)} (${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)}) | ${(median(cell.costShare) * 100).toFixed(3)} % (${(Math.max(...cell.costShare) * 100).toFixed(3)} %) |`,
    );
  }
  lines.push(
    '',
    "The on ÷ off ratio carries the machine's noise (its min–max shows how much); the recording's own cost is what it measured of itself in the same start: the clock reads and pushes in each child; in the primary, taking their reports and building and writing the trace (at ready and after; read from the trace written as the cluster stopped).",
  );
  const report = lines.join('\n');
  writeFileSync(join(OUT, 'timeline.md'), `${report}\n`);
  console.log(report);
  if (picture) {
    writeFileSync(join(OUT, 'timeline.json'), JSON.stringify(picture));
    writeFileSync(join(OUT, 'timeline.txt'), `${formatGantt(picture, 60)}\n`);
    writeFileSync(join(OUT, 'timeline.svg'), await svgOf(picture));
    console.log(`\nwrote ${['timeline.md', 'timeline.json', 'timeline.txt', 'timeline.svg'].map((f) => join(OUT, f)).join(', ')}`);
  }
})().catch((error) => {
  console.error(`measure-timeline: ${error.stack ?? error.message}`);
  process.exit(1);
});
