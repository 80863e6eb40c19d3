import { EventEmitter } from 'node:events';
import { AWAIT_HANDOVER, HANDOVER } from '../ipc/messages';
import { ProcessPrimaryLink } from '../ipc/primary-link';
import { awaitHandover } from './handover-client';

/** A process with an IPC channel whose primary answers `reply` as soon as it is asked. */
function fakeProcess(reply?: unknown) {
  const proc = new EventEmitter() as EventEmitter & { connected: boolean; send?: (...args: unknown[]) => boolean; sent: unknown[] };
  proc.sent = [];
  proc.connected = true;
  proc.send = (message: unknown, _handle?: unknown, _options?: unknown, done?: unknown) => {
    proc.sent.push(message);
    // Answer synchronously: the listener must already be attached when the request leaves.
    if (reply) proc.emit('message', reply);
    (done as (() => void) | undefined)?.();
    return true;
  };
  return proc;
}

describe('awaitHandover', () => {
  it('asks the primary and resolves with its answer, ignoring unrelated messages', async () => {
    const answer = { type: HANDOVER, ok: true, manifestPath: '/run/manifest.json', generation: 'g' };
    const proc = fakeProcess();
    const waiting = awaitHandover(new ProcessPrimaryLink(proc as unknown as NodeJS.Process));
    expect(proc.sent).toEqual([{ type: AWAIT_HANDOVER }]);
    proc.emit('message', { type: 'app:something' });
    proc.emit('message', answer);
    await expect(waiting).resolves.toEqual(answer);
    expect(proc.listenerCount('message')).toBe(0);
  });

  it('cannot miss an answer that comes back at once', async () => {
    const answer = { type: HANDOVER, ok: false, reason: 'timed out' };
    await expect(awaitHandover(new ProcessPrimaryLink(fakeProcess(answer) as unknown as NodeJS.Process))).resolves.toEqual(answer);
  });

  it('fails clearly without an IPC channel', async () => {
    await expect(awaitHandover(null)).rejects.toThrow('this worker has no IPC channel to its primary');
  });
});
