import { TIMELINE } from '../ipc/messages';
import { StartTimeline } from './start-timeline';

const T0 = 1_700_000_000_000;
const tracks = (tl: StartTimeline) =>
  tl
    .trace()
    .traceEvents.filter((e) => e.name === 'process_name')
    .map((e) => (e.args as { name: string }).name);

describe('StartTimeline', () => {
  it('stays bounded over a long life: the first start is kept, the oldest exited later processes go first', () => {
    const tl = new StartTimeline(T0, 1, () => 2);
    tl.forked(1, 10, 'worker 0', 2, T0 + 1);
    tl.forked(2, 11, 'worker 1', 3, T0 + 2);
    tl.clusterReady(T0 + 100);
    // A crash loop of one index, 100 replacements, each exiting.
    for (let seq = 3; seq < 103; seq++) {
      tl.forked(seq, 100 + seq, 'worker 1', 3, T0 + 100 + seq);
      tl.mark(seq, 'exit (code 1)', T0 + 101 + seq);
    }
    const names = tracks(tl);
    expect(names).toHaveLength(65);
    expect(names.slice(0, 3)).toEqual(['primary (pid 1)', 'worker 0 (pid 10)', 'worker 1 (pid 11)']);
    expect(names[names.length - 1]).toBe('worker 1 (pid 202)');
    expect(names).not.toContain('worker 1 (pid 103)');
  });

  it('before the cluster is ready too, only exited processes go, the oldest first; a live one is always kept', () => {
    const tl = new StartTimeline(T0, 1, () => 1);
    tl.forked(1, 10, 'worker 0', 2, T0 + 1);
    for (let seq = 2; seq < 80; seq++) {
      tl.forked(seq, 100 + seq, 'worker 0', 2, T0 + seq);
      tl.mark(seq, 'exit (code 1)', T0 + seq + 1);
    }
    const names = tracks(tl);
    expect(names).toHaveLength(65);
    expect(names[1]).toBe('worker 0 (pid 10)');
    expect(names).not.toContain('worker 0 (pid 102)');
    expect(names[names.length - 1]).toBe('worker 0 (pid 179)');
  });

  it("puts a child's spans on the primary's clock when the two drifted apart, keeps only a span's own fields, and refuses a cost that is not finite", () => {
    const tl = new StartTimeline(T0, 1, () => 1);
    tl.forked(1, 10, 'worker 0', 2, T0 + 1_000);
    const span = { name: 'app build', kind: 'app' as const, start: T0 + 1_500, end: T0 + 1_700, extra: 'x'.repeat(10_000) };
    // The primary's spans' clock runs 300 ms behind the wall clock (up for days); the child's agrees with it.
    expect(tl.reported(1, { type: TIMELINE, origin: T0 + 1_310, spans: [span], costMs: Infinity }, T0 + 5_000, T0 + 4_700)).toBe(false);
    expect(
      tl.reported(
        1,
        { type: TIMELINE, origin: T0 + 1_310, spans: [span], costMs: 0, clock: { epoch: T0 + 2_000, date: T0 + 2_000 } },
        T0 + 5_000,
        T0 + 4_700,
      ),
    ).toBe(true);
    const x = tl.trace().traceEvents.filter((e) => e.ph === 'X' && e.pid === 10);
    expect(x.map((e) => [e.name, e.ts / 1000, (e.dur as number) / 1000])).toEqual([
      ['fork', 1_000, 10],
      ['app build', 1_200, 200],
    ]);
    expect(JSON.stringify(tl.trace())).not.toContain('xxxx');
  });

  it('a process reports once; a second report, a report with too many spans or a bad span is not taken', () => {
    const tl = new StartTimeline(T0, 1, () => 1);
    tl.forked(1, 10, 'worker 0', 2, T0 + 1);
    const good = {
      type: TIMELINE as typeof TIMELINE,
      origin: T0 + 5,
      spans: [
        { name: 'step a', kind: 'step' as const, start: T0 + 6, end: T0 + 9 },
        { name: 'lock wait step-a', kind: 'lock' as const, start: T0 + 6, end: T0 + 8 },
      ],
      costMs: 0.01,
    };
    expect(tl.reported(1, { ...good, spans: [{ name: '', kind: 'step', start: 0, end: 1 }] })).toBe(false);
    expect(tl.reported(1, { ...good, spans: Array.from({ length: 2_001 }, () => good.spans[0]) })).toBe(false);
    expect(tl.lockWaitMs(1)).toBeNull();
    expect(tl.reported(1, good)).toBe(true);
    expect(tl.lockWaitMs(1)).toBe(2);
    expect(tl.reported(1, { ...good, spans: [{ name: 'lock wait step-b', kind: 'lock', start: T0, end: T0 + 500 }] })).toBe(true);
    expect(tl.lockWaitMs(1)).toBe(2);
    expect(tl.reported(99, good)).toBe(true);
  });
});
