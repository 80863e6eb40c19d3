import { formatStatus } from './cli';
import type { ClusterStatus } from './control/control.protocol';
import type { StepLine } from './supervisor/supervisor.ports';

const step = (name: string, status: string, workers?: { of: number; ran: number; complete: number }) => ({
  name,
  status,
  ranIn: 'preloader',
  durationMs: 12,
  critical: false,
  ...(workers ? { workers } : {}),
});

function statusWith(steps: StepLine[]): ClusterStatus {
  return {
    pid: 42,
    state: 'running',
    target: 4,
    uptimeMs: 5_000,
    primaryPssMb: 30,
    workers: [],
    reload: null,
    preload: { generation: 'a7d69a03-e698', durationMs: 900, steps, running: null },
  } as ClusterStatus;
}

describe('formatStatus', () => {
  it('says how the workers redid a step the preloader failed: all of them, or how many failed again', () => {
    const text = formatStatus(
      statusWith([
        step('migrations', 'complete'),
        step('profile_pictures', 'failed', { of: 4, ran: 4, complete: 4 }),
        step('flows', 'failed', { of: 4, ran: 4, complete: 3 }),
      ]),
    );
    const rows = text.split('\n');
    expect(rows.find((r) => r.startsWith('STEP'))).toMatch(/STATUS\s+RAN IN\s+DURATION\s+CRITICAL\s+WORKERS/);
    expect(rows.find((r) => r.startsWith('profile_pictures'))).toMatch(/failed\s+preloader\s+12ms\s+redone by 4\/4$/);
    expect(rows.find((r) => r.startsWith('flows'))).toMatch(/redone by 3\/4, 1 failed$/);
    expect(rows.find((r) => r.startsWith('migrations'))).not.toMatch(/redone/);
  });
});

describe('nest-preload timeline', () => {
  const { mkdtempSync, writeFileSync } = require('node:fs') as typeof import('node:fs');
  const { join } = require('node:path') as typeof import('node:path');
  const { tmpdir } = require('node:os') as typeof import('node:os');
  const { StartTimeline } = require('./supervisor/start-timeline') as typeof import('./supervisor/start-timeline');
  const { main } = require('./cli') as typeof import('./cli');

  function run(args: string[], env: NodeJS.ProcessEnv = {}) {
    const out: string[] = [];
    const err: string[] = [];
    const log = jest.spyOn(console, 'log').mockImplementation((m: string) => void out.push(m));
    const error = jest.spyOn(console, 'error').mockImplementation((m: string) => void err.push(m));
    return main(args, env).then((code) => {
      log.mockRestore();
      error.mockRestore();
      return { code, out: out.join('\n'), err: err.join('\n') };
    });
  }
  function traceIn(dir: string, file = 'timeline.json') {
    const tl = new StartTimeline(1_700_000_000_000, 7, () => 1);
    tl.forked(1, 70, 'worker 0', 2, 1_700_000_000_002);
    tl.reported(1, {
      type: 'nest-preload:timeline' as const,
      origin: 1_700_000_000_010,
      spans: [{ name: 'app build', kind: 'app', start: 1_700_000_000_020, end: 1_700_000_000_400 }],
      costMs: 0,
    });
    tl.mark(1, 'ready', 1_700_000_000_420);
    tl.clusterReady(1_700_000_000_421);
    writeFileSync(join(dir, file), JSON.stringify(tl.trace()));
  }

  it('finds the trace beside the control file (--file, NEST_PRELOAD_CONTROL_FILE), or where --trace or NEST_PRELOAD_TIMELINE_FILE say; --json prints it as it is', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-tl-'));
    traceIn(dir);
    const beside = await run(['timeline', '--file', join(dir, 'control.json')]);
    expect(beside.code).toBe(0);
    expect(beside.out).toMatch(/^start-up timeline of primary pid 7, .*: 1 worker\(s\) ready in 421 ms/);
    expect(beside.out).toMatch(/^worker 0 \(pid 70\)\s+fork\s+·+\s+8 ms$/m);
    expect(beside.out).toMatch(/^\s+app build\s+.*▒+.*380 ms$/m);
    expect(beside.out).toContain(`trace: ${join(dir, 'timeline.json')} (open it in ui.perfetto.dev`);
    expect((await run(['timeline'], { NEST_PRELOAD_CONTROL_FILE: join(dir, 'control.json') })).code).toBe(0);
    traceIn(dir, 'other.json');
    expect((await run(['timeline', '--trace', join(dir, 'other.json')])).out).toContain(`trace: ${join(dir, 'other.json')}`);
    expect((await run(['timeline'], { NEST_PRELOAD_TIMELINE_FILE: join(dir, 'other.json') })).out).toContain(
      `trace: ${join(dir, 'other.json')}`,
    );
    const json = await run(['timeline', '--json', '--trace', join(dir, 'other.json')]);
    expect(JSON.parse(json.out).otherData.primaryPid).toBe(7);
    // A control file of another name has its own trace beside it.
    traceIn(dir, 'b.timeline.json');
    expect((await run(['timeline', '--file', join(dir, 'b.json')])).out).toContain(`trace: ${join(dir, 'b.timeline.json')}`);
    const narrow = await run(['timeline', '--width', '20', '--trace', join(dir, 'other.json')]);
    expect(narrow.out.split('\n').find((l) => l.includes('app build'))).toMatch(/\s{2}[ ▒]{20}\s{2}380 ms$/);
  });

  it('says plainly what is wrong: no trace there (and why that may be), not a trace, a bad width', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cli-tl-'));
    const missing = await run(['timeline', '--trace', join(dir, 'none.json')]);
    expect([missing.code, missing.out]).toEqual([1, '']);
    expect(missing.err).toBe(
      `nest-preload: no start-up timeline at ${join(dir, 'none.json')} (a cluster writes it as it starts, beside its control file; is the timeline option off — it is with controlFile: false —, or did the cluster run elsewhere? --trace PATH names the file)`,
    );
    writeFileSync(join(dir, 'bad.json'), '{"traceEvents": 1}');
    expect((await run(['timeline', '--trace', join(dir, 'bad.json')])).err).toBe(
      `nest-preload: ${join(dir, 'bad.json')} is not a start-up timeline: it has no "traceEvents" list`,
    );
    writeFileSync(join(dir, 'text.json'), 'hello');
    expect((await run(['timeline', '--trace', join(dir, 'text.json')])).err).toContain('is not a start-up timeline: it is not valid JSON');
    const width = await run(['timeline', '--width', 'wide']);
    expect(width.code).toBe(2);
    expect(width.err).toContain('--width needs a whole number of columns from 20 to 400 (got "wide")');
  });
});
