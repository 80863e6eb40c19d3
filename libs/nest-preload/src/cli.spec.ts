import { formatStatus } from './cli';
import type { ClusterStatus } from './control/control.protocol';
import type { StepLine } from './supervisor/supervisor.ports';

const step = (name: string, status: string, workers?: { of: number; ran: number; complete: number }) => ({ name, status, ranIn: 'preloader', durationMs: 12, critical: false, ...(workers ? { workers } : {}) });

function statusWith(steps: StepLine[]): ClusterStatus {
  return {
    pid: 42, state: 'running', target: 4, uptimeMs: 5_000, primaryPssMb: 30, workers: [], reload: null,
    preload: { generation: 'a7d69a03-e698', durationMs: 900, steps, running: null },
  } as ClusterStatus;
}

describe('formatStatus', () => {
  it('says how the workers redid a step the preloader failed: all of them, or how many failed again', () => {
    const text = formatStatus(statusWith([step('migrations', 'complete'), step('profile_pictures', 'failed', { of: 4, ran: 4, complete: 4 }), step('flows', 'failed', { of: 4, ran: 4, complete: 3 })]));
    const rows = text.split('\n');
    expect(rows.find((r) => r.startsWith('STEP'))).toMatch(/STATUS\s+RAN IN\s+DURATION\s+CRITICAL\s+WORKERS/);
    expect(rows.find((r) => r.startsWith('profile_pictures'))).toMatch(/failed\s+preloader\s+12ms\s+redone by 4\/4$/);
    expect(rows.find((r) => r.startsWith('flows'))).toMatch(/redone by 3\/4, 1 failed$/);
    expect(rows.find((r) => r.startsWith('migrations'))).not.toMatch(/redone/);
  });
});
