import { EventEmitter } from 'node:events';
import { AWAIT_HANDOVER, HANDOVER } from '../supervisor/cluster.messages';
import { awaitHandover } from './handover-client';

/** A process with an IPC channel whose primary answers `reply` as soon as it is asked. */
function fakeProcess(reply?: unknown) {
  const proc = new EventEmitter() as EventEmitter & { send?: (m: unknown) => boolean; sent: unknown[] };
  proc.sent = [];
  proc.send = (message: unknown) => {
    proc.sent.push(message);
    // Answer synchronously: the listener must already be attached when the request leaves.
    if (reply) proc.emit('message', reply);
    return true;
  };
  return proc;
}

describe('awaitHandover', () => {
  it('asks the primary and resolves with its answer, ignoring unrelated messages', async () => {
    const answer = { type: HANDOVER, ok: true, manifestPath: '/run/manifest.json', generation: 'g' };
    const proc = fakeProcess();
    const waiting = awaitHandover(proc as unknown as NodeJS.Process);
    expect(proc.sent).toEqual([{ type: AWAIT_HANDOVER }]);
    proc.emit('message', { type: 'app:something' });
    proc.emit('message', answer);
    await expect(waiting).resolves.toEqual(answer);
    expect(proc.listenerCount('message')).toBe(0);
  });

  it('cannot miss an answer that comes back at once', async () => {
    const answer = { type: HANDOVER, ok: false, reason: 'timed out' };
    await expect(awaitHandover(fakeProcess(answer) as unknown as NodeJS.Process)).resolves.toEqual(answer);
  });

  it('fails clearly without an IPC channel', async () => {
    const proc = new EventEmitter();
    await expect(awaitHandover(proc as unknown as NodeJS.Process)).rejects.toThrow('this worker has no IPC channel to its primary');
  });
});
