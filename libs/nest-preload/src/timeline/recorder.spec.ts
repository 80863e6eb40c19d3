import { TIMELINE, type TimelineMessage } from '../ipc/messages';
import { StartRecorder } from './recorder';
import { isSpan, MAX_SPANS } from './span';

/** A stand-in for the IPC channel (never the jest worker's own process.send). */
function channel(connected = true) {
  const sent: TimelineMessage[] = [];
  return { sent, connected, send: async (m: { type: string }) => void sent.push(m as TimelineMessage) };
}

describe('StartRecorder', () => {
  it('records each phase with its start and end on the shared epoch clock, a failed one marked failed, and sends them once', async () => {
    const r = new StartRecorder(true);
    const before = performance.timeOrigin + performance.now();
    r.booted();
    await r.time('app build', 'app', () => new Promise((ok) => setTimeout(ok, 20)));
    await expect(r.time('step seed', 'step', () => Promise.reject(new Error('no')), { role: 'worker' })).rejects.toThrow('no');
    const ch = channel();
    r.send(ch);
    r.send(ch);
    r.add('late', 'serve', 0, 1);
    expect(ch.sent).toHaveLength(1);
    const [message] = ch.sent;
    expect(message.type).toBe(TIMELINE);
    expect(message.origin).toBe(performance.timeOrigin);
    expect(message.spans.map((s) => [s.name, s.kind, s.args])).toEqual([
      ['node boot + imports', 'boot', undefined],
      ['app build', 'app', undefined],
      ['step seed', 'step', { role: 'worker', failed: true }],
    ]);
    expect(message.spans.every(isSpan)).toBe(true);
    expect(message.spans[0].start).toBe(performance.timeOrigin);
    const build = message.spans[1];
    expect(build.start).toBeGreaterThanOrEqual(before);
    expect(build.end - build.start).toBeGreaterThanOrEqual(15);
    expect(message.costMs).toBeGreaterThanOrEqual(0);
    expect(message.costMs).toBeLessThan(5);
  });

  it('off (a child of a cluster whose timeline is off, or no cluster at all), it records and sends nothing', async () => {
    const r = new StartRecorder(false);
    r.booted();
    expect(await r.time('app build', 'app', () => 7)).toBe(7);
    const ch = channel();
    r.send(ch);
    expect(ch.sent).toEqual([]);
    expect(new StartRecorder().enabled).toBe(false);
  });

  it('sends nothing without a connected channel, and keeps at most MAX_SPANS', () => {
    const r = new StartRecorder(true);
    for (let i = 0; i < MAX_SPANS + 10; i++) r.add(`step s${i}`, 'step', i, i + 1);
    r.send(channel(false));
    const ch = channel();
    r.send(ch);
    expect(ch.sent[0].spans).toHaveLength(MAX_SPANS);
  });
});
