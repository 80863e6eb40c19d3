import { join } from 'node:path';
import { DemoCluster, eventually } from './support/demo-cluster';

// The failure contract of the preloader that exits (preloader: 'exits'): its teardown is critical.
// A cache teardown that fails or outlives cacheTeardownTimeoutMs, or an app.close() that fails,
// abandons the preload, and the workers do the full start-up and serve; a handle left open (an
// interval included) is named in a warning. On a minimal app of the built library
// (test/fixtures/faulty-app.cjs), in real processes.

const FIXTURE = join(__dirname, 'fixtures', 'faulty-app.cjs');

const start = (fault: string) => DemoCluster.start({ workers: 2, preload: true, main: FIXTURE, env: { FIXTURE_FAULT: fault } });

async function servingWorkers(run: DemoCluster): Promise<string[]> {
  await eventually(
    async () => run.lines.filter((l) => l.startsWith('fixture ')).length >= 2,
    30_000,
    `two workers serving; output:\n${run.output()}`,
  );
  return run.lines.filter((l) => l.startsWith('fixture ')).sort();
}

describe("the exiting preloader's teardown fails (real processes)", () => {
  let run: DemoCluster | undefined;
  afterEach(async () => {
    await run?.destroy();
    run = undefined;
  });

  it.each([
    ['cache-fails', 'cache teardown failed: cache FaultyCache teardown failed: Error: the cache server went away'],
    ['cache-hangs', 'cache teardown failed: cache FaultyCache teardown did not finish within 300 ms'],
    ['close-fails', 'closing the app failed: Error: the pool refused to close'],
  ])('%s: the preload is abandoned, and every worker does the full start-up and serves', async (fault, reason) => {
    run = await start(fault);
    expect(await servingWorkers(run)).toEqual(['fixture worker preloaded=false', 'fixture worker preloaded=false']);
    expect(run.output()).toMatch(
      new RegExp(
        `preload abandoned after \\d+ ms \\(${reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\); workers will run the full start-up`,
      ),
    );
  });

  it('a step that leaves an interval running: the preload completes, and the leftover timer is named in a warning', async () => {
    run = await start('interval');
    expect(await servingWorkers(run)).toEqual(['fixture worker preloaded=true', 'fixture worker preloaded=true']);
    expect(run.output()).toMatch(/WARN \[Preloader\] handles still open before exit: Timeout/);
    expect(run.output()).toMatch(/the preloader exited with handles still open: Timeout/);
  });

  it('and without a fault: no handle is left, nothing is abandoned', async () => {
    run = await start('');
    expect(await servingWorkers(run)).toEqual(['fixture worker preloaded=true', 'fixture worker preloaded=true']);
    expect(run.output()).toContain('no handles left open');
    expect(run.output()).not.toMatch(/abandoned|handles still open/);
  });
});
