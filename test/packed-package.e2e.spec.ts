import { execFileSync, spawn } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort, get } from './support/demo-cluster';
import { LIB, usePackedLibrary } from './support/pack';

// What a user gets from `npm i @lf/nest-preload`: the built library packed with `npm pack`, installed
// from the tarball into fresh apps outside the monorepo (a temp dir, dependencies from the npm
// registry), one on Nest 11 (CommonJS) and one on Nest 12 (ESM-only). Each declares a step, runs
// under runCluster with preload and 2 workers, and must answer /health/preload with 200.

const FIXTURE = resolve(__dirname, 'fixtures/packed-app');
const TSC = require.resolve('typescript/bin/tsc');

const packed = usePackedLibrary();

it('the tarball holds the built package and nothing of the source or the specs', () => {
  const files = execFileSync('tar', ['-tzf', packed.tarball()], { encoding: 'utf8' }).trim().split('\n');
  for (const f of [
    'package/package.json',
    'package/dist/index.js',
    'package/dist/index.d.ts',
    'package/dist/cluster.js',
    'package/dist/terminus.d.ts',
    'package/dist/typeorm.js',
    'package/dist/pg.js',
    'package/dist/pg.d.ts',
    'package/dist/cli.js',
  ]) {
    expect(files).toContain(f);
  }
  expect(files.filter((f) => f.includes('.spec.') || f.startsWith('package/src/'))).toEqual([]);
  // What a user reads in node_modules and on the registry page; nothing else beside dist/.
  expect(files.filter((f) => !f.startsWith('package/dist/')).sort()).toEqual([
    'package/CHANGELOG.md',
    'package/LICENSE',
    'package/README.md',
    'package/package.json',
  ]);
  expect(readFileSync(join(LIB, 'LICENSE'), 'utf8')).toBe(readFileSync(resolve(LIB, '../../LICENSE'), 'utf8'));
  const readme = readFileSync(join(LIB, 'README.md'), 'utf8');
  for (const heading of [
    '## When preload pays',
    '## Install',
    '## Add it to your app, step by step',
    '## Configuration',
    '## Several hosts',
  ])
    expect(readme).toContain(heading);
});

it('npm publish --dry-run accepts the package', () => {
  // Throws (non-zero exit) on a package npm would refuse: a bad name, version, bin or files list.
  const out = execFileSync('npm', ['publish', '--dry-run'], { cwd: LIB, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const { version } = JSON.parse(readFileSync(join(LIB, 'package.json'), 'utf8')) as { version: string };
  expect(out).toContain(`+ @lf/nest-preload@${version}`);
});

describe.each([
  { nest: 11, terminus: 11, moduleType: 'commonjs', tsconfig: 'tsconfig.cjs.json' },
  { nest: 12, terminus: 12, moduleType: 'module', tsconfig: 'tsconfig.esm.json' },
])('a fresh Nest $nest app ($moduleType) installed from the tarball', ({ nest, terminus, moduleType, tsconfig }) => {
  it('runs a declared step once in the preloader under runCluster with 2 workers, and answers /health/preload with 200', async () => {
    const app = packed.tempDir(`np-nest${nest}-`);
    cpSync(FIXTURE, app, { recursive: true });
    writeFileSync(
      join(app, 'package.json'),
      JSON.stringify(
        {
          name: `nest${nest}-user-app`,
          private: true,
          type: moduleType,
          dependencies: {
            '@lf/nest-preload': `file:${packed.tarball()}`,
            '@nestjs/common': `^${nest}.0.0`,
            '@nestjs/core': `^${nest}.0.0`,
            '@nestjs/platform-express': `^${nest}.0.0`,
            '@nestjs/terminus': `^${terminus}.0.0`,
            'reflect-metadata': '^0.2.2',
            rxjs: '^7.8.1',
          },
          devDependencies: { '@types/node': '^20.0.0' },
        },
        null,
        2,
      ),
    );
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, stdio: 'pipe', timeout: 240_000 });
    const installed = JSON.parse(readFileSync(join(app, 'node_modules/@nestjs/core/package.json'), 'utf8')) as {
      version: string;
      type?: string;
    };
    expect(installed.version.split('.')[0]).toBe(String(nest));
    if (nest === 12) expect(installed.type).toBe('module');
    execFileSync(process.execPath, [TSC, '-p', tsconfig], { cwd: app, stdio: 'pipe' });

    const port = await freePort();
    const stepLog = join(app, 'steps.log');
    const proc = spawn(process.execPath, ['dist/main.js'], {
      cwd: app,
      detached: true,
      env: { PATH: process.env.PATH, PORT: String(port), STEP_LOG: stepLog, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    proc.stdout.on('data', (c) => (output += c));
    proc.stderr.on('data', (c) => (output += c));
    const exited = new Promise<number | null>((ok) => proc.on('exit', (code) => ok(code)));
    try {
      const deadline = Date.now() + 60_000;
      while (!/cluster ready: 2\/2 workers \(preloaded/.test(output)) {
        if (Date.now() > deadline || proc.exitCode !== null)
          throw new Error(`the Nest ${nest} app did not become ready:\n${output.slice(-4000)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      // Both serve: the preloader as worker 0 (it ran the step), the other worker from its hand-over.
      const seen = new Map<string, unknown>();
      // (One kind of request per loop: round-robin alternates, so a pair would always split the same way.)
      for (let i = 0; i < 200 && seen.size < 2; i++) {
        const words = (await get(port, '/words')).json();
        seen.set(`${words.role}:${words.preloaded}`, words);
      }
      for (let i = 0; i < 4; i++) {
        const health = await get(port, '/health/preload');
        expect([health.status, health.json().status]).toEqual([200, 'ok']);
      }
      expect(Object.fromEntries(seen)).toEqual({
        'preloader:false': { role: 'preloader', preloaded: false, words: ['ready', 'set', 'go'] },
        'worker:true': { role: 'worker', preloaded: true, words: ['ready', 'set', 'go'] },
      });
      // The step ran exactly once, in the preloader.
      expect(
        readFileSync(stepLog, 'utf8')
          .trim()
          .split('\n')
          .map((l) => l.split(' ')[0]),
      ).toEqual(['preloader']);
    } finally {
      if (proc.exitCode === null) process.kill(-(proc.pid as number), 'SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 300_000);
});
