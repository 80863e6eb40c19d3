import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { StepPlan } from '../steps/step-plan';
import type { StepDefinition, StepState } from '../steps/step.types';
import { readHandover } from './handover-reader';
import { writeHandover } from './testing/write-handover';

const step = (name: string, after: string[] = []): StepDefinition => ({ name, after, critical: true, owner: `Steps.${name}` });
/** migrations → superuser; bundles → types → starters; pictures alone. */
const plan = StepPlan.build([
  step('migrations'),
  step('superuser', ['migrations']),
  step('bundles'),
  step('types', ['bundles']),
  step('starters', ['types']),
  step('pictures'),
]);
const record = (name: string, status: StepState['status'] = 'complete'): StepState => ({
  name,
  critical: true,
  status,
  ranIn: 'preloader',
  durationMs: 7,
  error: null,
});

const handover = (records: StepState[], values: Record<string, unknown>) => writeHandover(records, values, 500);
const names = (steps: ReadonlyArray<{ name: string }>) => steps.map((s) => s.name);

describe('readHandover', () => {
  it('adopts every completed step whose file checks out, with its open result file, and redoes nothing', async () => {
    const { path } = await handover(
      plan.names.map((n) => record(n)),
      { superuser: { id: 1 }, types: ['ChatInput'] },
    );
    const adoption = readHandover(path, { generation: 'g1', parentPid: 500 }, plan);
    if (!adoption.trusted) throw new Error(adoption.reason);
    expect(names(adoption.adopted)).toEqual(['migrations', 'superuser', 'bundles', 'types', 'starters', 'pictures']);
    expect(adoption.adopted[0]).toEqual(record('migrations'));
    expect(adoption.redo).toEqual([]);
    expect(adoption.warnings).toEqual([]);
    expect(adoption.files.read('types')).toEqual({ value: ['ChatInput'] });
    expect(adoption.files.has('migrations')).toBe(false);
    adoption.files.close();
  });

  it('redoes what did not complete and every step after it, in plan order, and keeps no file of those', async () => {
    const records = plan.names.map((n) => record(n, n === 'bundles' ? 'failed' : 'complete'));
    const { path } = await handover(records, { superuser: { id: 1 }, types: ['stale'] });
    const adoption = readHandover(path, { generation: 'g1', parentPid: 500 }, plan);
    if (!adoption.trusted) throw new Error(adoption.reason);
    expect(names(adoption.redo)).toEqual(['bundles', 'types', 'starters']);
    expect(names(adoption.adopted)).toEqual(['migrations', 'superuser', 'pictures']);
    expect(adoption.files.has('types')).toBe(false);
    expect(adoption.files.has('superuser')).toBe(true);
  });

  it('redoes a step whose result file fails its check, says why, and redoes what comes after it', async () => {
    const { path, runDir, results } = await handover(
      plan.names.map((n) => record(n)),
      { superuser: { id: 1 }, types: ['x'] },
    );
    writeFileSync(join(runDir, results.types.file), 'garbage');
    const adoption = readHandover(path, { generation: 'g1', parentPid: 500 }, plan);
    if (!adoption.trusted) throw new Error(adoption.reason);
    expect(names(adoption.redo)).toEqual(['types', 'starters']);
    expect(adoption.warnings).toEqual([
      `the result of step types cannot be used (${join(runDir, results.types.file)} has 7 bytes, the manifest says ${results.types.size}); this worker redoes the step`,
    ]);
  });

  it('a step the manifest does not know (the app changed) is run, and ignores records of steps no longer in the plan', async () => {
    const { path } = await handover([...plan.names.filter((n) => n !== 'pictures').map((n) => record(n)), record('gone')], {});
    const adoption = readHandover(path, { generation: 'g1', parentPid: 500 }, plan);
    if (!adoption.trusted) throw new Error(adoption.reason);
    expect(names(adoption.redo)).toEqual(['pictures']);
    expect(names(adoption.adopted)).not.toContain('gone');
  });

  it('does not trust a manifest of another generation or parent, and says why', async () => {
    const { path } = await handover([record('migrations')], {});
    expect(readHandover(path, { generation: 'g2', parentPid: 500 }, plan)).toEqual({
      trusted: false,
      reason: 'the manifest is of generation g1, this worker expects g2',
    });
    expect(readHandover(path, { generation: 'g1', parentPid: 1 }, plan)).toEqual({
      trusted: false,
      reason: "the manifest was written for primary pid 500, but this worker's parent is pid 1",
    });
  });
});
