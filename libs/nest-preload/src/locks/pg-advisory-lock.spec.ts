import { LockCompromisedError, LockConnectError, LockTimeoutError, PreloadConfigError, PreloadError } from '../errors/preload.error';
import { type AdvisoryLockSession, PgAdvisoryLock, advisoryKeys } from './pg-advisory-lock';

/**
 * A fake server with one advisory lock table shared by every session it opens. The real
 * PostgreSQL path (dedicated connection, pg_locks, pg_terminate_backend) is tested in test/.
 */
function fakeServer() {
  const held = new Map<string, number>();
  const log: string[] = [];
  let next = 1;
  const sessions: Array<AdvisoryLockSession & { id: number; kill(): void; closed: boolean }> = [];
  const open = async () => {
    const id = next++;
    const listeners: Array<(e: Error) => void> = [];
    const session = {
      id,
      closed: false,
      handle: { id },
      query: async (sql: string, params: unknown[]) => {
        const key = params.join(',');
        if (sql.includes('pg_try_advisory_lock')) {
          const owner = held.get(key);
          if (owner === undefined) held.set(key, id);
          log.push(`s${id} try ${owner === undefined || owner === id ? 'ok' : 'busy'}`);
          return [{ ok: owner === undefined || owner === id }];
        }
        if (sql.includes('pg_advisory_unlock')) {
          if (held.get(key) === id) held.delete(key);
          log.push(`s${id} unlock`);
          return [{ pg_advisory_unlock: true }];
        }
        if (sql.includes('pg_locks')) {
          const owner = held.get(key);
          return owner === undefined
            ? []
            : [{ pid: 4000 + owner, application_name: `host-${owner}:lock`, addr: '10.0.0.7', state: 'idle', age: 3 }];
        }
        throw new Error(`unexpected ${sql}`);
      },
      onLost: (listener: (e: Error) => void) => void listeners.push(listener),
      close: async () => {
        session.closed = true;
        for (const [k, owner] of held) if (owner === id) held.delete(k);
        log.push(`s${id} close`);
      },
      kill: () => {
        for (const [k, owner] of held) if (owner === id) held.delete(k);
        for (const l of listeners) l(new Error('terminating connection due to administrator command'));
      },
    };
    sessions.push(session);
    return session;
  };
  return { open, held, log, sessions };
}

describe('PgAdvisoryLock (fake server)', () => {
  it('derives two positive int4 keys: a namespace key and a name key', () => {
    const [ns, key] = advisoryKeys('nest-preload', 'step-migrations');
    expect([ns, key].every((k) => Number.isInteger(k) && k >= 0 && k <= 0x7fffffff)).toBe(true);
    expect(advisoryKeys('nest-preload', 'step-migrations')).toEqual([ns, key]);
    expect(advisoryKeys('other-app', 'step-migrations')[0]).not.toBe(ns);
    expect(advisoryKeys('nest-preload', 'superuser')[1]).not.toBe(key);
  });

  it('runs fn with the session handle, then unlocks and closes its dedicated connection', async () => {
    const server = fakeServer();
    const lock = new PgAdvisoryLock({ connect: server.open });
    const seen = await lock.withLock('superuser', async (held) => ({
      session: held.session,
      aborted: held.signal.aborted,
      held: server.held.size,
    }));
    expect(seen).toEqual({ session: { id: 1 }, aborted: false, held: 1 });
    expect(server.log).toEqual(['s1 try ok', 's1 unlock', 's1 close']);
    expect(server.held.size).toBe(0);
  });

  it('a step that throws: the error reaches the caller, the lock is released and its connection closed, the next holder gets it at once', async () => {
    const server = fakeServer();
    const lock = new PgAdvisoryLock({ connect: server.open });
    await expect(
      lock.withLock('step-seed', async () => {
        throw new Error('seed failed');
      }),
    ).rejects.toThrow('seed failed');
    expect(server.log).toEqual(['s1 try ok', 's1 unlock', 's1 close']);
    expect(server.held.size).toBe(0);
    await expect(lock.withLock('step-seed', async () => 'next', { timeoutMs: 50 })).resolves.toBe('next');
    expect(server.log.slice(3)).toEqual(['s2 try ok', 's2 unlock', 's2 close']);
  });

  it('excludes a second holder (another host) until the first releases, retrying with backoff', async () => {
    const server = fakeServer();
    const a = new PgAdvisoryLock({ connect: server.open, retryMinMs: 10, retryMaxMs: 40 });
    const waits: string[] = [];
    const b = new PgAdvisoryLock({ connect: server.open, retryMinMs: 10, retryMaxMs: 40, log: (line) => waits.push(line) });
    const order: string[] = [];
    let release!: () => void;
    const first = a.withLock(
      'seed',
      () =>
        new Promise<void>((r) => {
          order.push('a in');
          release = () => {
            order.push('a out');
            r();
          };
        }),
    );
    await new Promise((r) => setTimeout(r, 20));
    const second = b.withLock('seed', async () => void order.push('b in'), { timeoutMs: 5_000 });
    await new Promise((r) => setTimeout(r, 150));
    expect(order).toEqual(['a in']);
    expect(server.log.filter((l) => l === 's2 try busy').length).toBeGreaterThanOrEqual(3);
    release();
    await Promise.all([first, second]);
    expect(order).toEqual(['a in', 'a out', 'b in']);
    // One line when the wait starts (not one per attempt), one when it ends.
    expect(waits).toEqual([
      'The database lock "seed" is held by backend pid 4001 "host-1:lock" from 10.0.0.7, connected 3 s, idle; waiting up to 5.0 s.',
      expect.stringMatching(/^Acquired the database lock "seed" after waiting 0\.\d s\.$/),
    ]);
  });

  it('gives up at the deadline with a LockTimeoutError naming the holder and what to do; nothing ran', async () => {
    const server = fakeServer();
    let release!: () => void;
    const holder = new PgAdvisoryLock({ connect: server.open }).withLock('step-migrations', () => new Promise<void>((r) => (release = r)));
    await new Promise((r) => setTimeout(r, 20));
    const ran = jest.fn();
    const started = Date.now();
    const waits: string[] = [];
    const attempt = new PgAdvisoryLock({
      connect: server.open,
      target: 'db.internal:5432/langflow',
      retryMinMs: 20,
      log: (line) => waits.push(line),
    }).withLock('step-migrations', async () => ran(), { timeoutMs: 300 });
    const error = (await attempt.catch((e: unknown) => e)) as LockTimeoutError;
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(ran).not.toHaveBeenCalled();
    expect(error.message).toContain('Timed out after 300 ms waiting for the database lock "step-migrations" on db.internal:5432/langflow');
    expect(error.message).toContain('held by backend pid 4001 "host-1:lock" from 10.0.0.7');
    expect(error.message).toContain('pg_terminate_backend');
    expect(waits).toEqual([
      'The database lock "step-migrations" on db.internal:5432/langflow is held by backend pid 4001 "host-1:lock" from 10.0.0.7, connected 3 s, idle; waiting up to 0.3 s.',
    ]);
    expect(server.sessions[1].closed).toBe(true);
    release();
    await holder;
  });

  it('a session lost while fn runs aborts the signal and fails with LockCompromisedError once fn settles', async () => {
    const server = fakeServer();
    const lock = new PgAdvisoryLock({ connect: server.open });
    let aborted: unknown;
    const attempt = lock.withLock('step-flows', async (held) => {
      server.sessions[0].kill();
      aborted = held.signal.reason;
      return 'done anyway';
    });
    await expect(attempt).rejects.toBeInstanceOf(LockCompromisedError);
    expect(aborted).toBeInstanceOf(LockCompromisedError);
    expect(String((aborted as Error).message)).toContain('its database session ended: terminating connection due to administrator command');
    // No unlock is sent on a dead session; it is closed all the same.
    expect(server.log).toEqual(['s1 try ok', 's1 close']);
  });

  it('reports a connection failure as such, and refuses bad names and options', async () => {
    const failing = new PgAdvisoryLock({
      connect: async () => {
        throw new Error('connect ECONNREFUSED 127.0.0.1:5432');
      },
      target: '127.0.0.1:5432/app',
    });
    const error = (await failing.withLock('x', async () => 1).catch((e: unknown) => e)) as PreloadError;
    expect(error).toBeInstanceOf(LockConnectError);
    expect(error.code).toBe('ERR_PRELOAD_LOCK_CONNECT');
    expect(error.message).toBe(
      'Could not open the connection for the database lock "x" on 127.0.0.1:5432/app: connect ECONNREFUSED 127.0.0.1:5432. Check that PostgreSQL is reachable.',
    );
    await expect(new PgAdvisoryLock({ connect: fakeServer().open }).withLock('../x', async () => 1)).rejects.toBeInstanceOf(
      PreloadConfigError,
    );
    expect(() => new PgAdvisoryLock({} as never)).toThrow(PreloadConfigError);
    expect(() => new PgAdvisoryLock({ connect: fakeServer().open, namespace: '' })).toThrow(/namespace/);
  });
});
