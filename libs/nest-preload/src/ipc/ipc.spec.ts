import { EventEmitter } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { dispatch } from './dispatch';
import { checkChildMessage, HEARTBEAT, type PrimaryMessages, READY, SHUTDOWN } from './messages';
import { ProcessPrimaryLink } from './primary-link';

/** A child process's side of an IPC channel, without touching the jest worker's own. */
function fakeProcess(connected = true) {
  const proc = new EventEmitter() as EventEmitter & { connected: boolean; send?: (...args: unknown[]) => boolean; sent: unknown[] };
  proc.connected = connected;
  proc.sent = [];
  proc.send = (message: unknown, _h?: unknown, _o?: unknown, done?: unknown) => {
    proc.sent.push(message);
    setImmediate(() => (done as () => void)());
    return true;
  };
  return proc;
}

describe('dispatch', () => {
  const seen: unknown[] = [];
  const table = { [READY]: (m: unknown) => void seen.push(m) };
  beforeEach(() => (seen.length = 0));

  it('routes a message of ours to its handler once its shape holds', () => {
    const ready = { type: READY, pid: 42, preloaded: true };
    expect(dispatch(ready, table, checkChildMessage)).toBe('handled');
    expect(seen).toEqual([ready]);
  });

  it('tells a malformed message from an unhandled one and from one of another library, and calls no handler for them', () => {
    expect(dispatch({ type: READY, pid: -1 }, table, checkChildMessage)).toBe('malformed');
    expect(dispatch({ type: HEARTBEAT, requests: 1, rssMb: 1 }, table, checkChildMessage)).toBe('unhandled');
    for (const foreign of [null, 'nest-preload:ready', { type: 'pm2:ready' }, { type: 7 }])
      expect(dispatch(foreign, table)).toBe('foreign');
    expect(seen).toEqual([]);
  });
});

describe('ProcessPrimaryLink', () => {
  it('sends and resolves once the message left; a closed channel drops it and resolves at once', async () => {
    const open = fakeProcess();
    await new ProcessPrimaryLink(open as unknown as NodeJS.Process).send({ type: READY });
    expect(open.sent).toEqual([{ type: READY }]);
    const closed = fakeProcess(false);
    await new ProcessPrimaryLink(closed as unknown as NodeJS.Process).send({ type: READY });
    expect(closed.sent).toEqual([]);
    // Closed between the check and the send: Node throws ERR_IPC_CHANNEL_CLOSED; the link does not.
    const racing = fakeProcess();
    racing.send = () => {
      throw Object.assign(new Error('Channel closed'), { code: 'ERR_IPC_CHANNEL_CLOSED' });
    };
    await expect(new ProcessPrimaryLink(racing as unknown as NodeJS.Process).send({ type: READY })).resolves.toBeUndefined();
  });

  it('listens with a dispatch table until told to stop', () => {
    const proc = fakeProcess();
    const got: Array<PrimaryMessages[typeof SHUTDOWN]> = [];
    const stop = new ProcessPrimaryLink(proc as unknown as NodeJS.Process).listen({ [SHUTDOWN]: (m) => void got.push(m) });
    proc.emit('message', { type: SHUTDOWN, cut: true });
    proc.emit('message', { type: 'app:other' });
    stop();
    proc.emit('message', { type: SHUTDOWN });
    expect(got).toEqual([{ type: SHUTDOWN, cut: true }]);
    expect(proc.listenerCount('message')).toBe(0);
  });
});

describe('process handling at the edge', () => {
  it('only the IPC link sends on the process channel, and only process-exit.ts ends the process', () => {
    const root = join(__dirname, '..');
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') ? [join(dir, e.name)] : [],
      );
    const users = (pattern: RegExp) =>
      files(root)
        .filter((f) => !f.split(sep).includes('testing') && pattern.test(readFileSync(f, 'utf8')))
        .map((f) => relative(root, f))
        .sort();
    expect(users(/\bprocess\.send\b/)).toEqual([join('ipc', 'primary-link.ts')]);
    expect(users(/\bprocess\.exit(Code)?\b/)).toEqual(['process-exit.ts']);
  });
});
