import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_MAIN } from './support/demo-cluster';

/** Runs the demo with a bad environment; it must refuse before forking anything. */
function run(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'np-cfg-'));
  const result = spawnSync(process.execPath, [DEMO_MAIN], {
    cwd: dir,
    env: { PATH: process.env.PATH, DATA_DIR: join(dir, 'data'), TMPDIR: dir, PORT: '0', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  });
  return { code: result.status, stderr: result.stderr, stdout: result.stdout };
}

describe('bad configuration is refused before anything is forked', () => {
  it.each([
    [{ WORKERS: '-1' }, '[demo] WORKERS="-1" is invalid: use a whole number from 0 to 256.'],
    [{ WORKERS: 'four' }, '[demo] WORKERS="four" is invalid'],
    [
      { NEST_PRELOAD: 'maybe' },
      '[nest-preload] Invalid environment variable NEST_PRELOAD="maybe": expected true or false (or 1/0, yes/no, on/off).',
    ],
    [{ AUTO_LOGIN: 'sure' }, '[demo] AUTO_LOGIN="sure" is not a boolean: use true or false.'],
    [{ DATABASE_URL: 'mysql://x' }, '[demo] DATABASE_URL must be a postgres:// URL'],
    [{ GRACEFUL_TIMEOUT_MS: '0' }, '[demo] GRACEFUL_TIMEOUT_MS="0" is invalid'],
    [{ HOST: '0.0.0.0' }, '[demo] AUTO_LOGIN is on and HOST=0.0.0.0 is not a loopback address'],
    [
      { MULTI_HOST: 'true' },
      '[demo] MULTI_HOST=true needs DATABASE_URL (PostgreSQL): SQLite is a file on one host and cannot be shared by several hosts safely.',
    ],
    [
      { NEST_PRELOAD_ONE_SHOT: 'sometimes' },
      '[nest-preload] Invalid environment variable NEST_PRELOAD_ONE_SHOT="sometimes": expected true or false (or 1/0, yes/no, on/off).',
    ],
  ])('%p → exit 2 with one clear message', (env, message) => {
    const { code, stderr, stdout } = run({ WORKERS: '2', ...env });
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toEqual([expect.stringContaining(message)]);
    expect(stdout).not.toContain('worker');
  });
});

const FIXTURE = join(__dirname, 'fixtures', 'configurable-app.cjs');

/** Runs the fixture app with runCluster options (and environment); it must refuse with one message. */
function runFixture(options: Record<string, unknown>, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'np-fixture-'));
  const r = spawnSync(process.execPath, [FIXTURE], {
    cwd: __dirname,
    env: { PATH: process.env.PATH, TMPDIR: dir, FIXTURE_OPTIONS: JSON.stringify(options), ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

describe('runCluster options are validated before anything is forked', () => {
  it.each([
    [{ workers: -1 }, 'Invalid runCluster option workers=-1: expected a whole number from 1 to 1024, or 0 to run without a cluster.'],
    [{ workers: 'two' }, 'Invalid runCluster option workers="two"'],
    [{ workers: 0.5 }, 'Invalid runCluster option workers=0.5'],
    [{ gracefulTimeoutMs: 0 }, 'Invalid runCluster option gracefulTimeoutMs=0: expected a positive whole number of milliseconds.'],
    [{ maxRestarts: -3 }, 'Invalid runCluster option maxRestarts=-3: expected a whole number, 0 or more.'],
    [{ wrokers: 2 }, 'Unknown option "wrokers". Known options:'],
    [{ preloadStart: 'later' }, 'Invalid runCluster option preloadStart="later"'],
  ])('%p → exit 2, one clear message, no child', (options, message) => {
    const { code, stderr, stdout } = runFixture({ workers: 2, ...options });
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toEqual([expect.stringContaining(message)]);
    expect(stdout).not.toMatch(/preloader started|worker/);
  });

  it('a step plan with a cycle: the preload is abandoned and the cluster halts non-zero, naming the cycle', () => {
    const { code, stdout, stderr } = runFixture({ workers: 1 }, { FIXTURE_CYCLE: 'true' });
    expect(code).toBe(3);
    expect(stdout + stderr).toContain('Preload steps form a cycle: a -> b -> a');
  });

  it('the same app without the cycle starts (the fixture itself is sound)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'np-fixture-'));
    const child = spawnSync(
      process.execPath,
      [
        '-e',
        `
      const { spawn } = require('node:child_process');
      const c = spawn(process.execPath, [${JSON.stringify(FIXTURE)}], { env: { PATH: process.env.PATH, TMPDIR: ${JSON.stringify(dir)}, FIXTURE_OPTIONS: '{"workers":1}' } });
      let out = ''; c.stdout.on('data', (d) => { out += d; if (/cluster ready/.test(out)) { c.kill('SIGTERM'); } });
      c.on('exit', (code) => { process.stdout.write(out.includes('cluster ready') ? 'ready ' + code : 'not ready ' + code); });
    `,
      ],
      { cwd: __dirname, encoding: 'utf8', timeout: 30_000 },
    );
    expect(child.stdout).toBe('ready 0');
  });
});
