import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DemoCluster } from './support/demo-cluster';

describe('one control file, one cluster (real processes)', () => {
  const clusters: DemoCluster[] = [];
  afterEach(async () => {
    for (const c of clusters.splice(0)) await c.destroy();
  });

  it('two primaries started at the same instant in one directory: one serves, the other exits 2 naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'np-claim-'));
    const [a, b] = await Promise.all([
      DemoCluster.start({ workers: 1, preload: true, dir }),
      DemoCluster.start({ workers: 1, preload: true, dir }),
    ]);
    clusters.push(a, b);
    const outcome = await Promise.race([
      a.waitExit().then((exit) => ({ loser: a, winner: b, exit })),
      b.waitExit().then((exit) => ({ loser: b, winner: a, exit })),
    ]);
    expect(outcome.exit.code).toBe(2);
    expect(outcome.loser.output()).toMatch(
      new RegExp(`another cluster (\\(primary pid ${outcome.winner.pid}\\) is running|is starting) with the control file .*control\\.json`),
    );
    await outcome.winner.waitReady();
    expect((await outcome.winner.get('/health/preload')).status).toBe(200);
  });
});
