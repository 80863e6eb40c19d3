import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEMO_MAIN } from './support/demo-cluster';

/** Runs the demo with a bad environment; it must refuse before forking anything. */
function run(env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'np-cfg-'));
  const result = spawnSync(process.execPath, [DEMO_MAIN], { cwd: dir, env: { PATH: process.env.PATH, DATA_DIR: join(dir, 'data'), TMPDIR: dir, PORT: '0', ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: result.status, stderr: result.stderr, stdout: result.stdout };
}

describe('bad configuration is refused before anything is forked', () => {
  it.each([
    [{ WORKERS: '-1' }, '[demo] WORKERS="-1" is invalid: use a whole number from 0 to 256.'],
    [{ WORKERS: 'four' }, '[demo] WORKERS="four" is invalid'],
    [{ NEST_PRELOAD: 'maybe' }, '[nest-preload] Invalid environment variable NEST_PRELOAD="maybe": expected true or false.'],
    [{ AUTO_LOGIN: 'sure' }, '[demo] AUTO_LOGIN="sure" is not a boolean: use true or false.'],
    [{ DATABASE_URL: 'mysql://x' }, '[demo] DATABASE_URL must be a postgres:// URL'],
    [{ GRACEFUL_TIMEOUT_MS: '0' }, '[demo] GRACEFUL_TIMEOUT_MS="0" is invalid'],
    [{ HOST: '0.0.0.0' }, '[demo] AUTO_LOGIN is on and HOST=0.0.0.0 is not a loopback address'],
  ])('%p → exit 2 with one clear message', (env, message) => {
    const { code, stderr, stdout } = run({ WORKERS: '2', ...env });
    expect(code).toBe(2);
    expect(stderr.trim().split('\n')).toEqual([expect.stringContaining(message)]);
    expect(stdout).not.toContain('worker');
  });
});
