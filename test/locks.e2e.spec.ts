import { FileLock } from '@lf/nest-preload';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const HOLDER = resolve(__dirname, 'support/lock-holder.cjs');
const STALE_MS = 2_000;

/** Starts a real process holding the lock `name` for `holdMs`; resolves once it holds it. */
async function holder(dir: string, holdMs: number): Promise<{ child: ChildProcess; output: () => string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [HOLDER, dir, 'superuser', String(holdMs), String(STALE_MS)], { cwd: __dirname });
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
    const result = await new FileLock(dir).withLock('superuser', async () => 'taken over', { staleMs: STALE_MS, timeoutMs: STALE_MS + 5_000 });
    expect(result).toBe('taken over');
    expect(Date.now() - started).toBeLessThan(STALE_MS + 5_000);
  });

  it('a holder stopped past the stale time and resumed does not crash: it learns its lock was lost (its work is redone)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'np-locks-'));
    const h = await holder(dir, 3_000);
    h.child.kill('SIGSTOP');
    // Another process takes the stale lock over and does the work.
    const other = await new FileLock(dir).withLock('superuser', async () => 'done by the other', { staleMs: STALE_MS, timeoutMs: STALE_MS + 5_000 });
    expect(other).toBe('done by the other');
    h.child.kill('SIGCONT');
    expect(await h.exited).toBe(0);
    expect(h.output()).toContain('compromised: ERR_PRELOAD_LOCK_COMPROMISED');
  });
});
