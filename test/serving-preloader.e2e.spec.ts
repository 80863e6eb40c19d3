import { makeBundle } from './support/bundles';
import { DemoCluster, eventually, pssMb } from './support/demo-cluster';

const autocannon = require('autocannon') as (
  opts: Record<string, unknown>,
) => Promise<{ requests: { total: number }; errors: number; timeouts: number; non2xx: number }>;

const treePss = (c: DemoCluster) => c.childPids().reduce((sum, pid) => sum + pssMb(pid), pssMb(c.pid));

describe('the preloader that serves, and the restart policy (real processes)', () => {
  let cluster: DemoCluster | undefined;
  afterEach(async () => {
    await cluster?.destroy();
    cluster = undefined;
  });

  it('serve runs after every step, in the preloader and in every worker', async () => {
    cluster = await DemoCluster.start({ workers: 3, preload: true });
    await cluster.waitReady();
    const seen = cluster.lines.filter((l) => /\[demo\] pid \d+: serve sees \d+ of \d+ steps complete before listen/.test(l));
    expect(seen).toHaveLength(3);
    for (const line of seen) expect(line).toMatch(/serve sees 9 of 9 steps complete/);
  });

  it('a heavy preloader (1000 components imported by its steps) is replaced under load with zero failed requests, and the settled tree holds less than with the preloader kept', async () => {
    const bundle = await makeBundle(1000);
    const env = { BUNDLE_URLS: bundle, HEARTBEAT_INTERVAL_MS: '300' };
    /** Waits until the heavy preloader has been replaced: its replacement ready, the preloader gone. */
    const replacement = async (c: DemoCluster) => {
      const preloaderPid = Number(/preloader started \(pid (\d+)/.exec(c.output())?.[1]);
      await c.waitFor(
        /replacing the preloader \(worker 0, pid \d+\): its steps took its RSS from \d+ MB to \d+ MB, over 1\.12× \(heavyPreloaderRatio\)/,
        20_000,
      );
      await c.waitFor(new RegExp(`worker 0 \\(pid ${preloaderPid}\\) exited with code 0 \\(replaced\\)`), 30_000);
      await eventually(
        () => c.childPids().length === 2 && !c.childPids().includes(preloaderPid),
        10_000,
        'two workers, the preloader gone',
      );
    };
    // Under load (a light endpoint, so that 8 s of traffic is many thousand requests): none fails.
    cluster = await DemoCluster.start({ workers: 2, preload: true, env });
    await cluster.waitReady(90_000);
    const load = autocannon({ url: `http://127.0.0.1:${cluster.port}/api/v1/version`, connections: 4, duration: 8 });
    await replacement(cluster);
    const result = await load;
    expect({ errors: result.errors, non2xx: result.non2xx, timeouts: result.timeouts }).toEqual({ errors: 0, non2xx: 0, timeouts: 0 });
    expect(result.requests.total).toBeGreaterThan(100);
    await cluster.destroy();
    // Memory, without traffic (whatever garbage a load leaves in each heap would drown the
    // difference): the same cluster settled with the preloader kept, and with it replaced.
    const settled = async (extra: Record<string, string>, wait: (c: DemoCluster) => Promise<void>) => {
      const c = await DemoCluster.start({ workers: 2, preload: true, env: { ...env, ...extra } });
      cluster = c;
      await c.waitReady(90_000);
      await wait(c);
      await new Promise((r) => setTimeout(r, 1_000));
      const pss = treePss(c);
      await c.destroy();
      cluster = undefined;
      return pss;
    };
    const kept = await settled({ HEAVY_PRELOADER_RATIO: '0' }, async () => undefined);
    const replaced = await settled({}, replacement);
    console.log(
      `heavy preloader: settled tree PSS ${kept.toFixed(1)} MB kept, ${replaced.toFixed(1)} MB replaced (${(replaced / kept).toFixed(2)}×); ${result.requests.total} requests through a replacement, 0 failed`,
    );
    expect(replaced).toBeLessThan(kept);
  }, 200_000);

  it('alone (one worker), a heavy preloader is weighed against itself before its steps and replaced; the cluster keeps serving', async () => {
    cluster = await DemoCluster.start({ workers: 1, preload: true, env: { BUNDLE_URLS: await makeBundle(1000) } });
    const c = cluster;
    await c.waitReady(90_000);
    const preloaderPid = Number(/preloader started \(pid (\d+)/.exec(c.output())?.[1]);
    await c.waitFor(
      /replacing the preloader \(worker 0, pid \d+\): its steps took its RSS from \d+ MB to \d+ MB, over 1\.12× \(heavyPreloaderRatio\)/,
      20_000,
    );
    await c.waitFor(new RegExp(`worker 0 \\(pid ${preloaderPid}\\) exited with code 0 \\(replaced\\)`), 30_000);
    expect(c.childPids()).toHaveLength(1);
    expect((await c.get('/api/v1/all')).status).toBe(200);
  }, 120_000);

  it("a lean preloader is kept: no replacement when its heap is like the others'", async () => {
    cluster = await DemoCluster.start({ workers: 2, preload: true, env: { HEARTBEAT_INTERVAL_MS: '300' } });
    const c = cluster;
    await c.waitReady();
    await c.waitFor(
      /the preloader \(worker 0\) went from \d+ MB to \d+ MB RSS in its steps(; the other workers' median is [\d.]+ MB)?: it goes on serving/,
      10_000,
    );
    expect(c.output()).not.toMatch(/replacing the preloader/);
  });

  it('a crash loop of workers that die right after ready still halts with exit 5, naming the cause', async () => {
    cluster = await DemoCluster.start({
      workers: 2,
      preload: false,
      env: { DEMO_EXIT_AFTER_READY_MS: '200', MAX_RESTARTS: '2', RESTART_DELAY_MS: '50', MAX_RESTART_DELAY_MS: '200' },
    });
    const exit = await cluster.waitExit();
    expect(exit.code).toBe(5);
    expect(cluster.output()).toMatch(
      /every worker index \(2\) crashed more than maxRestarts \(2\) times within restartWindowMs \(60000 ms\), each within minUptimeMs \(5000 ms\) of starting, and none is serving; .*last: worker \d \(pid \d+\) exited with code 1; halting/,
    );
  }, 120_000);
});
