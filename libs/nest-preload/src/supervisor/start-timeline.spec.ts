import { TIMELINE } from './cluster.messages';
import { StartTimeline } from './start-timeline';

const T0 = 1_700_000_000_000;
const tracks = (tl: StartTimeline) => tl.trace().traceEvents.filter((e) => e.name === 'process_name').map((e) => (e.args as { name: string }).name);

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

  it('a process reports once; a second report, a report with too many spans or a bad span is not taken', () => {
    const tl = new StartTimeline(T0, 1, () => 1);
    tl.forked(1, 10, 'worker 0', 2, T0 + 1);
    const good = { type: TIMELINE as typeof TIMELINE, origin: T0 + 5, spans: [{ name: 'step a', kind: 'step' as const, start: T0 + 6, end: T0 + 9 }, { name: 'lock wait step-a', kind: 'lock' as const, start: T0 + 6, end: T0 + 8 }], costMs: 0.01 };
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
