#!/usr/bin/env node
/**
 * Writes a component bundle: an archive (.tar.gz or .zip, by the extension of --out) of K
 * synthetic but realistic component modules (CommonJS classes with display name, inputs,
 * outputs and a run() method), for benchmarks and tests.
 *
 *   npm run gen-bundle -- --count 1000 --out /tmp/bundle-1000.tar.gz [--prefix Acme]
 */
const { mkdtempSync, writeFileSync, mkdirSync, rmSync, createWriteStream } = require('node:fs');
const { tmpdir } = require('node:os');
const { join, resolve } = require('node:path');
const { once } = require('node:events');

const CATEGORIES = ['agents', 'embeddings', 'vectorstores', 'retrievers', 'tools', 'processing', 'data', 'helpers', 'logic', 'models'];
const INPUT_TYPES = ['str', 'int', 'float', 'bool', 'dict', 'list', 'message', 'data'];
const WORDS = [
  'search',
  'vector',
  'document',
  'graph',
  'memory',
  'stream',
  'query',
  'record',
  'index',
  'chunk',
  'token',
  'schema',
  'router',
  'cache',
  'ranker',
  'parser',
];

/** Deterministic pseudo-random numbers, so a given K always gives the same bundle. */
function rng(seed) {
  let s = seed >>> 0;
  return () => (s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32;
}

function componentSource(prefix, i) {
  const r = rng(i + 1);
  const pick = (list) => list[Math.floor(r() * list.length)];
  const name = `${prefix}${pick(WORDS)[0].toUpperCase()}${pick(WORDS).slice(1)}${String(i).padStart(5, '0')}`;
  const category = CATEGORIES[i % CATEGORIES.length];
  const inputs = Array.from({ length: 3 + Math.floor(r() * 6) }, (_, k) => {
    const type = pick(INPUT_TYPES);
    const field = `${pick(WORDS)}_${k}`;
    return {
      name: field,
      display_name: field.replace(/_/g, ' ').replace(/^\w/, (c) => c.toUpperCase()),
      type,
      required: k === 0,
      value: type === 'int' ? k * 10 : type === 'bool' ? false : null,
      info: `The ${field.replace(/_\d+$/, '')} this component uses (${type}).`,
    };
  });
  const outputs = [
    { name: 'result', display_name: 'Result', types: ['Data'] },
    ...(r() < 0.4 ? [{ name: 'summary', display_name: 'Summary', types: ['Message'] }] : []),
  ];
  return {
    name,
    file: `${name}.js`,
    code: `'use strict';
/** ${name}: a generated ${category} component (bundle fixture). */
class ${name} {
  run(inputs) {
    const fields = ${name}.inputs.map((input) => [input.name, inputs[input.name] ?? input.value]);
    const missing = ${name}.inputs.filter((input) => input.required && (inputs[input.name] === undefined || inputs[input.name] === null)).map((input) => input.name);
    if (missing.length) throw new Error(\`${name} needs \${missing.join(', ')}\`);
    const result = Object.fromEntries(fields.map(([key, value]) => [key, typeof value === 'string' ? value.trim() : value]));
    return { result, summary: \`${name} processed \${fields.length} fields\` };
  }
}
${name}.displayName = ${JSON.stringify(name.replace(prefix, `${prefix} `))};
${name}.description = ${JSON.stringify(`Generated ${category} component number ${i}: combines ${inputs.map((x) => x.name).join(', ')} into one record.`)};
${name}.category = ${JSON.stringify(category)};
${name}.icon = ${JSON.stringify(pick(['Search', 'Database', 'Braces', 'Workflow', 'Sparkles']))};
${name}.inputs = ${JSON.stringify(inputs, null, 2)};
${name}.outputs = ${JSON.stringify(outputs, null, 2)};
module.exports = { component: ${name} };
`,
  };
}

/** Writes the bundle; returns { out, count, kind }. */
async function generateBundle({ count, out, prefix = 'Acme' }) {
  if (!Number.isInteger(count) || count < 0) throw new Error(`--count must be a whole number >= 0 (got ${count})`);
  const target = resolve(out);
  const kind = /\.zip$/i.test(target) ? 'zip' : /\.(tar\.gz|tgz)$/i.test(target) ? 'tar.gz' : null;
  if (!kind) throw new Error(`--out must end in .tar.gz, .tgz or .zip (got ${out})`);
  const work = mkdtempSync(join(tmpdir(), 'gen-bundle-'));
  try {
    const dir = join(work, 'components');
    mkdirSync(dir);
    const files = [];
    for (let i = 0; i < count; i++) {
      const c = componentSource(prefix, i);
      writeFileSync(join(dir, c.file), c.code);
      files.push(`components/${c.file}`);
    }
    if (kind === 'tar.gz') {
      await require('tar').c({ gzip: true, file: target, cwd: work, portable: true }, ['components']);
    } else {
      const yazl = require('yazl');
      const zip = new yazl.ZipFile();
      zip.addEmptyDirectory('components/');
      for (const f of files) zip.addFile(join(work, f), f);
      zip.end();
      const stream = createWriteStream(target);
      zip.outputStream.pipe(stream);
      await once(stream, 'close');
    }
    return { out: target, count, kind };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

module.exports = { generateBundle, componentSource };

if (require.main === module) {
  const args = process.argv.slice(2);
  const value = (flag) => {
    const i = args.indexOf(flag);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const count = Number(value('--count'));
  const out = value('--out');
  if (!out || value('--count') === undefined) {
    console.error('usage: npm run gen-bundle -- --count K --out PATH.tar.gz|PATH.zip [--prefix Name]');
    process.exit(2);
  }
  generateBundle({ count, out, prefix: value('--prefix') ?? 'Acme' }).then(
    (r) => console.log(`wrote ${r.count} components to ${r.out} (${r.kind})`),
    (error) => {
      console.error(`gen-bundle: ${error.message}`);
      process.exit(2);
    },
  );
}
