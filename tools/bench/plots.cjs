/** The benchmark's plots: Vega-Lite specs rendered to SVG headless (vega's View.toSVG). */
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { median } = require('../lib/demo-runner.cjs');
const { cell, summarize } = require('./report.cjs');

const MODE_LABEL = { preload: 'preload', off: 'preload off', pm2: 'PM2 cluster', floor: 'floor' };

/** One point per mode and x: the median, with min and max for the error bar. */
function points(results, metric, axis, fixed) {
  const out = [];
  const xs = axis === 'workers' ? results.config.workers : results.config.counts;
  for (const mode of Object.keys(MODE_LABEL)) {
    for (const x of xs) {
      const [n, k] = axis === 'workers' ? [x, fixed] : [fixed, x];
      const values = cell(results, mode, n, k).map(metric.value);
      if (!values.length) continue;
      out.push({
        mode: MODE_LABEL[mode],
        x,
        median: metric.scale(median(values)),
        min: metric.scale(Math.min(...values)),
        max: metric.scale(Math.max(...values)),
      });
    }
  }
  return out;
}

function spec(title, xTitle, yTitle, data) {
  const x = { field: 'x', type: 'quantitative', title: xTitle, axis: { values: [...new Set(data.map((d) => d.x))] } };
  const color = { field: 'mode', type: 'nominal', title: 'mode', sort: Object.values(MODE_LABEL) };
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title,
    width: 420,
    height: 260,
    background: 'white',
    data: { values: data },
    layer: [
      { mark: { type: 'line', point: true }, encoding: { x, y: { field: 'median', type: 'quantitative', title: yTitle }, color } },
      { mark: { type: 'rule' }, encoding: { x, y: { field: 'min', type: 'quantitative' }, y2: { field: 'max' }, color } },
    ],
  };
}

/** Writes the four plots into `dir`; returns their file names. */
async function writePlots(results, dir) {
  const vega = await import('vega');
  const vl = await import('vega-lite');
  const { nMax, kRef } = summarize(results);
  const pss = { value: (r) => r.totalPssKb, scale: (kb) => kb / 1024 };
  const ready = { value: (r) => r.readyMs, scale: (ms) => ms };
  const plots = {
    'pss-vs-workers.svg': spec(
      `Total PSS vs workers (K = ${kRef})`,
      'workers (N)',
      'total PSS of the tree (MB)',
      points(results, pss, 'workers', kRef),
    ),
    'pss-vs-components.svg': spec(
      `Total PSS vs components (N = ${nMax})`,
      'generated components (K)',
      'total PSS of the tree (MB)',
      points(results, pss, 'counts', nMax),
    ),
    'ready-vs-workers.svg': spec(
      `Time until every worker is ready vs workers (K = ${kRef})`,
      'workers (N)',
      'time to ready (ms)',
      points(results, ready, 'workers', kRef),
    ),
    'ready-vs-components.svg': spec(
      `Time until every worker is ready vs components (N = ${nMax})`,
      'generated components (K)',
      'time to ready (ms)',
      points(results, ready, 'counts', nMax),
    ),
  };
  for (const [file, vlSpec] of Object.entries(plots)) {
    const view = new vega.View(vega.parse(vl.compile(vlSpec).spec), { renderer: 'none' });
    writeFileSync(join(dir, file), await view.toSVG());
    view.finalize();
  }
  return Object.keys(plots);
}

module.exports = { writePlots };
