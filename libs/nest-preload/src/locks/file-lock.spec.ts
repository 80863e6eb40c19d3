import { mkdirSync, mkdtempSync, statSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LockTimeoutError, PreloadConfigError } from '../errors/preload.error';
import { DEFAULT_PRELOAD_OPTIONS, resolvePreloadOptions } from '../preload.options';
import { FileLock } from './file-lock';
import { DEFAULT_LOCK_OPTIONS } from './lock-backend';

describe('FileLock', () => {
  let dir: string;
  beforeEach(() => (dir = join(mkdtempSync(join(tmpdir(), 'lock-spec-')), 'locks')));

  it('runs the function under the lock and returns its value, creating the lock dir 0700', async () => {
    const lock = new FileLock(dir);
    await expect(lock.withLock('superuser', async () => 42)).resolves.toBe(42);
    // Other local users must not be able to plant or remove locks in it.
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });

  it('excludes a second holder until the first releases', async () => {
    const lock = new FileLock(dir);
    const order: string[] = [];
    let release!: () => void;
    const first = lock.withLock(
      'seed',
      () =>
        new Promise<void>((r) => {
          order.push('first in');
          release = () => {
            order.push('first out');
            r();
          };
        }),
    );
    await new Promise((r) => setTimeout(r, 50));
    const second = lock.withLock('seed', async () => void order.push('second in'), { timeoutMs: 5_000 });
    await new Promise((r) => setTimeout(r, 100));
    expect(order).toEqual(['first in']);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['first in', 'first out', 'second in']);
  });

  it('times out with a LockTimeoutError that names the lock and its path', async () => {
    const lock = new FileLock(dir);
    let release!: () => void;
    const holder = lock.withLock('superuser', () => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 50));
    const started = Date.now();
    const attempt = lock.withLock('superuser', async () => 'never', { timeoutMs: 300 });
    await expect(attempt).rejects.toBeInstanceOf(LockTimeoutError);
    await attempt.catch((error: LockTimeoutError) => {
      expect(error.code).toBe('ERR_PRELOAD_LOCK_TIMEOUT');
      expect(error.lockName).toBe('superuser');
      expect(error.message).toContain(`Timed out after 300 ms waiting for the startup lock "superuser" (${join(dir, 'superuser.lock')})`);
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    release();
    await holder;
  });

  it('takes over a stale lock left by a dead holder', async () => {
    mkdirSync(join(dir, 'superuser.lock'), { recursive: true });
    const old = new Date(Date.now() - 60_000);
    utimesSync(join(dir, 'superuser.lock'), old, old);
    await expect(new FileLock(dir).withLock('superuser', async () => 'taken', { timeoutMs: 500, staleMs: 2_000 })).resolves.toBe('taken');
  });

  it('still releases the lock when the function throws', async () => {
    const lock = new FileLock(dir);
    await expect(
      lock.withLock('x', async () => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(lock.withLock('x', async () => 'free', { timeoutMs: 200 })).resolves.toBe('free');
  });

  it('refuses a lock name that could escape the lock dir', async () => {
    await expect(new FileLock(dir).withLock('../etc', async () => 1)).rejects.toBeInstanceOf(PreloadConfigError);
  });
});

describe('one lock-timeout default', () => {
  it('the module, the file lock and the advisory locks wait the same, longer than a lock goes stale', () => {
    expect(DEFAULT_PRELOAD_OPTIONS.lockTimeoutMs).toBe(DEFAULT_LOCK_OPTIONS.timeoutMs);
    expect(DEFAULT_PRELOAD_OPTIONS.lockStaleMs).toBe(DEFAULT_LOCK_OPTIONS.staleMs);
    expect(DEFAULT_LOCK_OPTIONS.timeoutMs).toBeGreaterThan(DEFAULT_LOCK_OPTIONS.staleMs);
    // The module's own validation accepts its defaults (it refuses a wait not longer than the stale time).
    expect(() => resolvePreloadOptions({})).not.toThrow();
  });
});
