import { FileLock } from '@lf/nest-preload';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { eventually } from './support/demo-cluster';

const HOLDER = resolve(__dirname, 'support/lock-holder.cjs');
const STALE_MS = 2_000;

/** Starts a real process holding the lock `name` for `holdMs`; resolves once it holds it. */
async function holder(
  dir: string,
  holdMs: number,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; output: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [HOLDER, dir, 'superuser', String(holdMs), String(STALE_MS)], {
    cwd: __dirname,
    env: { ...process.env, ...env },
  });
  let out = '';
  child.stdout?.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  while (!out.includes('held')) await new Promise((r) => setTimeout(r, 20));
  return { child, output: () => out, exited };
}

describe('startup locks across real processes', () => {
  it('a holder killed with SIGKILL: its lock is taken over once stale, within a retry budget longer than the stale time', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'np-locks-'));
    const h = await holder(dir, 60_000);
    h.child.kill('SIGKILL');
    await h.exited;
    const started = Date.now();
    const result = await new FileLock(dir).withLock('superuser', async () => 'taken over', {
      staleMs: STALE_MS,
      timeoutMs: STALE_MS + 5_000,
    });
    expect(result).toBe('taken over');
    expect(Date.now() - started).toBeLessThan(STALE_MS + 5_000);
  });

  it('a holder stopped past the stale time and resumed does not crash: it learns its lock was lost (its work is redone)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'np-locks-'));
    const h = await holder(dir, 3_000);
    h.child.kill('SIGSTOP');
    // Another process takes the stale lock over and does the work.
    const other = await new FileLock(dir).withLock('superuser', async () => 'done by the other', {
      staleMs: STALE_MS,
      timeoutMs: STALE_MS + 5_000,
    });
    expect(other).toBe('done by the other');
    h.child.kill('SIGCONT');
    expect(await h.exited).toBe(0);
    expect(h.output()).toContain('compromised: ERR_PRELOAD_LOCK_COMPROMISED');
  });
  it("a waiter says who holds the lock (pid, role, host) and how long it will wait, then how long it waited once the killed holder's lock was taken over", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'np-locks-'));
    const h = await holder(dir, 60_000, { NEST_PRELOAD_ROLE: 'worker', NEST_PRELOAD_WORKER_INDEX: '3' });
    const lines: string[] = [];
    try {
      const waiting = new FileLock(
        dir,
        () => undefined,
        (line) => lines.push(line),
      ).withLock('superuser', async () => 'ran', { timeoutMs: 20_000, staleMs: STALE_MS });
      await eventually(async () => lines.length > 0, 5_000, 'the first wait line');
      expect(lines[0]).toMatch(
        new RegExp(
          `^The startup lock "superuser" is held by pid ${h.child.pid} \\(worker 3\\) on ${hostname()}, for \\d+\\.\\d s; waiting up to 20\\.0 s\\.$`,
        ),
      );
      h.child.kill('SIGKILL'); // it never releases: the waiter takes the lock over once it is stale
      await expect(waiting).resolves.toBe('ran');
      expect(lines[lines.length - 1]).toMatch(/^Acquired the startup lock "superuser" after waiting \d+\.\d s\.$/);
      expect(Number(/after waiting (\d+\.\d) s/.exec(lines[lines.length - 1])?.[1])).toBeGreaterThanOrEqual(1.5);
    } finally {
      h.child.kill('SIGKILL');
    }
  });

  it("a waiter says when the holder named in the lock's note is gone; a lock taken at once says nothing", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'np-locks-'));
    mkdirSync(join(dir, 'bundles.lock'));
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    writeFileSync(
      join(dir, 'bundles.holder.json'),
      JSON.stringify({ pid: dead, host: hostname(), role: 'preloader', since: Date.now() - 3_000 }),
    );
    const lines: string[] = [];
    const lock = new FileLock(
      dir,
      () => undefined,
      (line) => lines.push(line),
    );
    await expect(lock.withLock('bundles', async () => 'ran', { timeoutMs: 300, staleMs: 10_000 })).rejects.toThrow(
      'Timed out after 300 ms',
    );
    expect(lines).toEqual([
      expect.stringMatching(
        new RegExp(
          `^The startup lock "bundles" is held by pid ${dead} \\(preloader\\) on ${hostname()}, for 3\\.\\d s; that process is gone, so the lock is taken over once it is stale; waiting up to 0\\.3 s\\.$`,
        ),
      ),
    ]);
    lines.length = 0;
    await expect(lock.withLock('free', async () => 'ran')).resolves.toBe('ran');
    expect(lines).toEqual([]);
  });
});
