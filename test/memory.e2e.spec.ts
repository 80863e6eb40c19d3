import { readFileSync } from 'node:fs';
import { makeBundle } from './support/bundles';
import { DemoCluster, pssMb } from './support/demo-cluster';

/** Median worker PSS of a cluster after the same warm-up requests. */
async function workerPss(env: Record<string, string>, preload: boolean): Promise<number> {
  const cluster = await DemoCluster.start({ workers: 2, preload, env });
  try {
    await cluster.waitReady();
    // A heavy serving preloader is replaced after ready: measure once the old one has gone.
    if (preload) await cluster.waitSettled();
    for (let i = 0; i < 8; i++) await cluster.get('/api/v1/all');
    await new Promise((r) => setTimeout(r, 500));
    const values = cluster
      .childPids()
      .map(pssMb)
      .sort((a, b) => a - b);
    return (values[0] + values[values.length - 1]) / 2;
  } finally {
    await cluster.destroy();
  }
}

describe('memory of workers (PSS from /proc, measured side by side in one run)', () => {
  it('with 1000 components, a preloaded worker holds clearly less than a worker that did the start-up itself', async () => {
    const BUNDLE_URLS = await makeBundle(1000);
    const preloaded = await workerPss({ BUNDLE_URLS }, true);
    const off = await workerPss({ BUNDLE_URLS }, false);
    // A ratio of two figures from this run, not an absolute threshold (measured: about 0.73).
    expect(preloaded / off).toBeLessThan(0.9);
  });
});

describe("workerExecArgv (the demo's WORKER_NODE_FLAGS)", () => {
  it('gives the flags to every worker and not to the primary', async () => {
    const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const startWith = async (env: Record<string, string>) => {
      const cluster = await DemoCluster.start({ workers: 2, preload: true, env });
      try {
        await cluster.waitReady();
        const workers = cluster.childPids();
        expect(workers).toHaveLength(2);
        return { primary: cmdline(cluster.pid), workers: workers.map(cmdline), cluster };
      } catch (error) {
        await cluster.destroy();
        throw error;
      }
    };
    const lean = await startWith({ WORKER_NODE_FLAGS: '--max-semi-space-size=1' });
    try {
      expect(lean.primary).not.toContain('--max-semi-space-size=1');
      for (const args of lean.workers) expect(args).toContain('--max-semi-space-size=1');
    } finally {
      await lean.cluster.destroy();
    }
  });
});
